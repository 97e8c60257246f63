#!/usr/bin/env bash
# One command: set up Waybill and run it on its embedded defaults — SQLite under instance/,
# demo data, the channel sandbox on 127.0.0.1:8099 and the scheduler pulling from it,
# the web app on http://127.0.0.1:${OMS_PORT:-8080}.
. "$(dirname "$0")/_venv.sh" requirements.txt

export OMS_SANDBOX_PORT="${OMS_SANDBOX_PORT:-8099}"
PORT="${OMS_PORT:-8080}"

flask oms init --demo --orders "${OMS_DEMO_ORDERS:-1000}"

# New orders keep arriving on the three demo channels; the scheduler pulls them in.
flask oms sandbox --port "$OMS_SANDBOX_PORT" --orders 10 --trickle "${OMS_SANDBOX_TRICKLE:-20}" &
SANDBOX_PID=$!
trap 'kill $SANDBOX_PID 2>/dev/null || true' EXIT

# The sandbox keeps its parcels in memory: once it listens, ship some packed orders with its
# UPS and EasyPost labels, so the demo has parcels that move (poll_tracking follows them).
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$OMS_SANDBOX_PORT") 2>/dev/null && break; sleep 0.2; done
flask oms demo-labels --count "${OMS_DEMO_LABELS:-20}" || echo "demo labels: none bought (see above)" >&2

echo
echo "Waybill is starting on http://127.0.0.1:$PORT  (sign in with the admin login printed above;"
echo "it is printed only when the admin is first created — set OMS_ADMIN_PASSWORD to choose it)"
# One worker process that also runs the scheduler (pull_orders from the sandbox, ...).
OMS_SCHEDULER="${OMS_SCHEDULER:-on}" gunicorn --bind "127.0.0.1:$PORT" --workers 1 --threads 8 \
  --access-logfile - wsgi:app
