#!/bin/sh
# The test command (README): set up .venv, install brewd with its test extras, then lint,
# type-check and run the whole suite. Arguments are passed to pytest.
set -eu
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
extras=test,embedded  # embedded: servers for a machine that runs none (tests/embedded_fallback.py)
# systemd-python builds from source: only where libsystemd's headers and pkg-config exist.
if pkg-config --exists libsystemd 2>/dev/null; then extras="$extras,systemd"; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
.venv/bin/ruff check brewd tests
.venv/bin/ruff format --check brewd tests
.venv/bin/mypy  # brewd strict, tests with check_untyped_defs (setup.cfg [mypy])
exec .venv/bin/python -m pytest "$@"
