#!/usr/bin/env bash
# System packages the tests and `make demo` need, installed on any new machine.
# valgrind: the instruction-count gate (--simperf-instructions) runs regions under callgrind.
set -euo pipefail
if command -v valgrind >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: valgrind is missing and there is no apt-get here; install valgrind yourself" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends valgrind >/dev/null
valgrind --version
