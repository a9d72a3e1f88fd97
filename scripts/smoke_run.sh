#!/usr/bin/env bash
# The first run of a newcomer, checked from outside. Anyone can run it; CI does.
#
#   scripts/smoke_run.sh [COMMIT]      (default: HEAD of this checkout)
#
# 1. Clones COMMIT into a fresh folder and runs `make run` there, as the README says:
#    a .venv from requirements.lock alone, the embedded defaults, on a free port,
#    with DEMO_PASSWORD set and mail written as files (EMAIL_URL=filemail://...).
# 2. Probes it over HTTP (scripts/smoke_probe.py): login page, every demo user signs
#    in, an officer's status move with a note, a reminder email from the running worker
#    within a minute.
# 3. Runs scripts/check_runtime.py with that runtime-only venv: every project module
#    imports, `celery worker` and `celery beat` start and stay up.
# 4. Sends Ctrl-C (SIGINT to the process group) and checks that no process is left.
# Exits non-zero at the first failure, with the run's log.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
COMMIT="$(git -C "$SRC" rev-parse "${1:-HEAD}")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tracker-smoke.XXXXXX")"
CLONE="$WORK/clone"
MAIL="$WORK/mail"
LOG="$WORK/make-run.log"
PASSWORD="smoke-$(date +%s)-demo"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
START_TIMEOUT="${SMOKE_START_TIMEOUT:-300}"
RUN_PID=""

say() { echo "smoke: $*"; }

cleanup() {
  if [[ -n "$RUN_PID" ]] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -KILL -- "-$RUN_PID" 2>/dev/null || true
  fi
  # honcho starts each process in a session of its own: take those down too.
  pkill -KILL -f "$CLONE/" 2>/dev/null || true
  if [[ "${SMOKE_KEEP:-0}" != 1 ]]; then rm -rf "$WORK"; else say "kept $WORK"; fi
}
trap cleanup EXIT

show_log() { echo "----- make run log (last 80 lines) -----"; tail -n 80 "$LOG" || true; }

say "clone of ${COMMIT:0:12} in $CLONE"
git clone --quiet --no-checkout "$SRC" "$CLONE"
git -C "$CLONE" checkout --quiet "$COMMIT"
mkdir -p "$MAIL"

# Its own process group (setsid), so that Ctrl-C can be sent the way a terminal does.
say "make run on port $PORT (log: $LOG)"
(
  cd "$CLONE"
  exec setsid env -u DATABASE_URL -u REDIS_URL -u VIRTUAL_ENV \
    PORT="$PORT" DEMO_PASSWORD="$PASSWORD" EMAIL_URL="filemail://$MAIL" \
    make run >"$LOG" 2>&1
) &
RUN_PID=$!

deadline=$((SECONDS + START_TIMEOUT))
answers() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$1" 2>/dev/null; }
until answers "http://127.0.0.1:$PORT/accounts/login/"; do
  if ! kill -0 "$RUN_PID" 2>/dev/null; then say "FAIL: make run exited"; show_log; exit 1; fi
  if ((SECONDS > deadline)); then say "FAIL: not serving after ${START_TIMEOUT} s"; show_log; exit 1; fi
  sleep 1
done
say "serving after $SECONDS s (install, migrate, demo data included)"

if ! python3 "$CLONE/scripts/smoke_probe.py" --base "http://127.0.0.1:$PORT" \
  --password "$PASSWORD" --mail-dir "$MAIL" --mail-timeout 60; then
  show_log
  exit 1
fi

if ! "$CLONE/.venv/bin/python" "$CLONE/scripts/check_runtime.py"; then
  show_log
  exit 1
fi

say "Ctrl-C (SIGINT to the process group)"
kill -INT -- "-$RUN_PID"
for _ in $(seq 30); do
  kill -0 "$RUN_PID" 2>/dev/null || break
  sleep 1
done
sleep 1
left="$(ps -eo pid=,pgid=,args= | awk -v g="$RUN_PID" '$2 == g' || true)"
left+="$(ps -eo pid=,args= | grep -F "$CLONE" | grep -v grep || true)"
if [[ -n "$left" ]]; then
  say "FAIL: processes left after Ctrl-C:"
  echo "$left"
  show_log
  exit 1
fi
RUN_PID=""
if grep -q "Traceback" "$LOG"; then
  say "FAIL: the run printed a traceback"
  show_log
  exit 1
fi
say "Ctrl-C left no process behind"
say "all checks passed in $SECONDS s"
