#!/bin/sh
# Fail the package build when the bundled virtualenv is incomplete: every requirement of brewd
# met (save psycopg-binary, left out on purpose: see requirements.txt), and the parts that load
# system libraries (libpq5, libsystemd0) importable.
# Usage: packaging/venv-check.sh VENV_DIR
set -eu
python=$1/bin/python
problems=$("$python" -m pip check 2>&1 | grep -v -i 'requires psycopg-binary' | grep -v '^No broken' || true)
if [ -n "$problems" ]; then
    echo "venv-check: packaging/requirements.txt lacks what setup.cfg asks for:" >&2
    echo "$problems" >&2
    exit 1
fi
"$python" - <<'PY'
import psycopg
import systemd.daemon  # noqa: F401  (sd_notify and the journal, from the systemd extra)

import brewd.cli.brewctl  # noqa: F401
import brewd.cli.brewd  # noqa: F401

# libpq must be Debian's (libpq5, with its security updates), not a copy from a wheel.
assert psycopg.pq.__impl__ == "python", f"psycopg uses its {psycopg.pq.__impl__} implementation"
print(f"venv-check: ok (psycopg {psycopg.__version__}, libpq {psycopg.pq.version()})")
PY
