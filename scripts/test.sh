#!/usr/bin/env bash
# One command: install what the tests need (Debian's chromium included, when missing) and
# run the whole suite. SQLite by default; PostgreSQL when OMS_TEST_DATABASE_URL is set.
# Extra arguments go to pytest.
. "$(dirname "$0")/_venv.sh" requirements-test.txt

if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

set +e
python -m pytest -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
