# Shared by scripts/demo.sh and scripts/test.sh: make .venv and install a requirements file.
# Usage: . scripts/_venv.sh requirements.txt
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
REQUIREMENTS="$ROOT/$1"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x "$ROOT/.venv/bin/python" ]; then
  if ! "$PYTHON" -m venv "$ROOT/.venv" 2>/dev/null; then
    echo "python3-venv is missing: installing it with apt-get" >&2
    rm -rf "$ROOT/.venv"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    "$PYTHON" -m venv "$ROOT/.venv"
  fi
fi
# Reinstall only when the requirements changed since the last install.
STAMP="$ROOT/.venv/.installed-$(basename "$REQUIREMENTS")"
if [ ! -f "$STAMP" ] || [ "$REQUIREMENTS" -nt "$STAMP" ] || [ "$ROOT/requirements.txt" -nt "$STAMP" ]; then
  "$ROOT/.venv/bin/python" -m pip install -q --upgrade pip
  "$ROOT/.venv/bin/python" -m pip install -q -r "$REQUIREMENTS"
  touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
export FLASK_APP="app:create_app"
cd "$ROOT"
