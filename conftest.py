"""Root conftest: the repository's own tests run with the plugin installed (entry point)."""
