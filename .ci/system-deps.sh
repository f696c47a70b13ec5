#!/usr/bin/env bash
# System packages the tests and `make demo` need, installed on any new machine.
# valgrind: the instruction-count gate (--simperf-instructions) runs regions under callgrind.
# chromium: the dashboard test renders the HTML in headless Chromium and reads the DOM.
set -euo pipefail
missing=()
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  missing+=(chromium)
fi
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: ${missing[*]} missing and there is no apt-get here; install them yourself" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system-deps: installed ${missing[*]}"
