#!/usr/bin/env bash
# make run: migrate, seed the demo data, then serve the API (gunicorn) and an RQ worker until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-5000}
HOST=${HOST:-127.0.0.1}
export APP_ENV=${APP_ENV:-development}
export TZ=Asia/Shanghai
VENV=.venv
mkdir -p instance logs

scripts/services.sh redis

$VENV/bin/flask --app wsgi create-db
$VENV/bin/flask --app wsgi db upgrade
$VENV/bin/flask --app wsgi seed-demo

$VENV/bin/python -m workers.worker >logs/worker.log 2>&1 &
WORKER=$!
$VENV/bin/python -m workers.cron >logs/cron.log 2>&1 &
CRON=$!
trap 'kill $WORKER $CRON 2>/dev/null || true' EXIT INT TERM

cat <<MSG

  API          http://$HOST:$PORT/api/v1/hospitals
  API docs     http://$HOST:$PORT/api/v1/docs  (OpenAPI: /api/v1/openapi.json)
  Health       http://$HOST:$PORT/healthz
  Staff admin  http://$HOST:$PORT/admin/  (create a staff member first: docs/admin.md)
  Database     ${DATABASE_URL:-SQLite file instance/dev.db}
  Worker logs  logs/worker.log, logs/cron.log

MSG
$VENV/bin/gunicorn --config gunicorn.conf.py --bind "$HOST:$PORT" \
  --workers "${WEB_CONCURRENCY:-2}" --threads 4 wsgi:app
