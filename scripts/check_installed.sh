#!/usr/bin/env bash
# The package as a museum gets it: build the sdist and, from it, the wheel (python -m build),
# install the wheel into a fresh virtualenv in a folder outside the checkout, and run the
# server and client from there (scripts/installed_smoke.py). Any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd)
python=${PYTHON:-$(command -v python3.11 || command -v python3)}
work=$(mktemp -d "${TMPDIR:-/tmp}/qazba-installed.XXXXXX")
trap 'rm -rf "$work"' EXIT

.venv/bin/python -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 \
    || { tail -n 30 "$work/build.log"; echo "python -m build failed"; exit 1; }
ls "$work"/dist/*.tar.gz "$work"/dist/*.whl >/dev/null
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet "$work"/dist/*.whl
mkdir "$work/run"
cp scripts/installed_smoke.py "$work/"
# from the work folder, so nothing of the checkout is on the import path
(cd "$work/run" && "$work/venv/bin/python" "$work/installed_smoke.py" "$work/venv" "$work/run")
case "$(cd "$work/run" && pwd)" in "$checkout"*) echo "the check ran inside the checkout"; exit 1;; esac
