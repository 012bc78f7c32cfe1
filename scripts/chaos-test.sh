#!/usr/bin/env bash
# The local compose stack under faults: what Docker can do to a container must cost no accepted work.
set -euo pipefail

usage() {
  cat <<'EOT'
Usage: scripts/chaos-test.sh [--only LIST] [--keep] [--help]

Installs the local stack (./install_docker.sh in a copy of the checkout, $CARGO_TARGET_DIR/compose-test/stack), with
two web replicas, PostgreSQL published on loopback for the load's enqueues and checks, and a 16 MB tmpfs in the
cron container as a backup target that fills up. Then, each under a bounded load from loopback (bench's
chaos_load: note writes and reads through nginx, notes.create tasks through the outbox, one signup a second, for
30 to 50 s at 40 operations a second; it stops by itself), one fault at a time:
  1. docker kill the worker while tasks are running (a 4 s probe task among them), start it 5 s later
  2. docker restart postgres: the web answers 503 meanwhile, and is not restarted itself
  3. docker stop rabbitmq for 30 s, then start it: every request is still accepted, every task runs afterwards
  4. docker kill one of the two web replicas: nginx passes reads on to the other (none may fail); writes cut off in
     flight are counted
  5. a backup into the full tmpfs: it fails saying so, the dashboard shows the failed run, the older backup there
     is listed and still verifies
  6. docker kill cron in the middle of a backup (300 MB in the database): no partial backup is listed, the
     dashboard shows the run interrupted, and the next run succeeds and verifies
After each load: every accepted write is there exactly once (notes, tasks' notes, accounts and their one mail), and
no request went without an answer past 65 s. Prints the table of faults: requests, accepted, completed, lost,
duplicated, failed (by status), hung.

  --only LIST  run only these faults, by number, e.g. --only 2,4 (default: all six)
  --keep       leave the stack running at the end

Project ${CHAOS_TEST_PROJECT:-apptestchaos}, port ${CHAOS_TEST_PORT:-18090} (nginx) and the one after it (PostgreSQL).
Needs Docker, curl, python3 and cargo (the load generator is built with the workspace).
EOT
}

keep=0
only=1,2,3,4,5,6
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --keep) keep=1 ;;
    --only)
      [[ "${2:-}" =~ ^[1-6](,[1-6])*$ ]] \
        || { echo "chaos-test: --only takes fault numbers from 1 to 6, separated by commas (e.g. 2,4)" >&2; exit 2; }
      only=$2
      shift ;;
    *) echo "chaos-test: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
# Whether fault $1 is among those to run.
runs() { [[ ",$only," == *",$1,"* ]]; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
script_name=chaos-test
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
project=${CHAOS_TEST_PROJECT:-apptestchaos}
port=${CHAOS_TEST_PORT:-18090}
pg_port=$((port + 1))
base=http://127.0.0.1:$port
use_build_cache
# The copy compose-test.sh works in (it brings its stacks down when it ends): cargo fingerprints a workspace by its
# path, so the same path reuses the release build instead of compiling the application again.
stack=$CARGO_TARGET_DIR/compose-test/stack
work=$(mktemp -d)
require_compose
stack_cmd() { (cd "$stack" && "${compose_cmd[@]}" -p "$project" -f docker-compose.yml -f chaos.override.yml "$@"); }
started=$SECONDS

cleanup() {
  local status=$?
  [ -z "${load_pid:-}" ] || kill "$load_pid" 2>/dev/null || true
  if [ $status -ne 0 ]; then
    echo "chaos-test: FAILED; state of the stack:" >&2
    stack_cmd ps >&2 2>/dev/null || true
    stack_cmd logs --no-color --tail 20 >&2 2>/dev/null || true
  fi
  if [ $keep -eq 0 ] || [ $status -ne 0 ]; then
    stack_cmd down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT

sql() { stack_cmd exec -T postgres psql -qtAX -U "$pg_user" -d "$pg_db" -c "$1"; }
container() { stack_cmd ps -q "$1" | head -n1; }

# Every container running and healthy (one-offs exited 0), within 240 s.
wait_healthy() {
  local pending
  pending=$(wait_stack_healthy 240 stack_cmd) || fail "not healthy after 240s: $pending"
}

# The load in the background ("$@": chaos_load's flags after the tag); `settle` waits for it and keeps its row.
rows=()
load() {
  local tag=$1; shift
  "$loader" --base "$base" --db "$db_url" --tag "$tag" "$@" >"$work/$tag.json" 2>"$work/$tag.err" &
  load_pid=$!
}
settle() {
  local fault=$1 pid=$load_pid
  load_pid=""
  if ! wait "$pid"; then
    cat "$work/$fault.err" "$work/$fault.json" >&2
    fail "fault $fault: the load found work lost, applied twice, hung or failed (above)"
  fi
  rows+=("$fault")
  python3 - "$work/$fault.json" <<'EOF'
import json, sys
row = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(f"    load: {row['requests']} requests, {row['accepted']} writes accepted, {row['completed']} completed, "
      f"{row['lost']} lost, {row['duplicated']} applied twice, {row['failed']} failed {row['failed_by_status']}, "
      f"{row['hung']} hung, {row['skipped']} not sent (64 in flight); {row['mails_twice']} verification mails "
      f"arrived twice (mail is at-least-once); checked {row['settled_in_secs']} s after the load")
EOF
}

# Waits until the SQL query $1 prints something other than 0 (at most $2 seconds).
wait_for_sql() {
  local deadline=$((SECONDS + $2))
  until [ "$(sql "$1" 2>/dev/null || echo 0)" != 0 ]; do
    [ $SECONDS -lt $deadline ] || fail "waited ${2}s for: $1"
    sleep 0.2
  done
}

# The dashboard's view of a cron job's last finished run, as staff sees it: "status<TAB>output tail".
last_cron_run() {
  curl -sS -b "$work/admin" "$base/monitor/api/cron" | python3 -c "
import json, sys
for job in json.load(sys.stdin):
    if job['name'] == sys.argv[1] and job.get('last'):
        print(job['last']['status'] + '\t' + (job['last'].get('output_tail') or '').replace('\n', ' '))
" "$1"
}

# --- the stack -----------------------------------------------------------------------------------------------------
step "install the local stack in a copy of the checkout"
(cd "$stack" 2>/dev/null && "${compose_cmd[@]}" -p "$project" down -v --remove-orphans >/dev/null 2>&1) || true
copy_checkout "$stack"
cd "$stack"
COMPOSE_PROJECT_NAME=$project HTTP_PORT=$port ./install_docker.sh --timeout 400 >"$work/install.log" 2>&1 \
  || { tail -n 40 "$work/install.log"; fail "install_docker.sh failed"; }
pass "$(grep -o 'every service is healthy.*' "$work/install.log" | head -n1 | tr -d ')')"
env_value() { sed -n "s/^$1=//p" .envs/local.env | tail -n1; }
pg_user=$(env_value POSTGRES_USER) pg_db=$(env_value POSTGRES_DB)
db_url="postgres://$pg_user:$(env_value POSTGRES_PASSWORD)@127.0.0.1:$pg_port/$pg_db"

cat > chaos.override.yml <<EOF
# Written by scripts/chaos-test.sh for its own stack: PostgreSQL on loopback (the load enqueues through the outbox
# and checks what was written), and a small tmpfs in cron that a backup fills.
services:
  postgres:
    ports:
      - "127.0.0.1:$pg_port:5432"
  cron:
    tmpfs:
      - /tmp
      - /small-target:size=16m,mode=1777
EOF
step "two web replicas, PostgreSQL on 127.0.0.1:$pg_port, a 16 MB backup target"
stack_cmd up -d --scale web=2 >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "up -d --scale web=2 failed"; }
wait_healthy
# nginx resolves `web` when it loads its configuration: reload it to have both replicas.
stack_cmd exec -T nginx nginx -e stderr -s reload 2>/dev/null
replicas=$(stack_cmd exec -T nginx getent ahostsv4 web | awk '{print $1}' | sort -u | wc -l)
[ "$replicas" = 2 ] || fail "nginx sees $replicas web addresses, not 2"
pass "web has 2 replicas behind nginx"
curl -sS -c "$work/admin" -o /dev/null -H 'Content-Type: application/json' \
  -d "{\"email\":\"$(env_value ADMIN_EMAIL)\",\"password\":\"$(env_value ADMIN_PASSWORD)\"}" "$base/api/auth/login"

step "the load generator (cargo build --workspace --all-targets: bench's chaos_load)"
# Debug, with the workspace's tests, as compose-test.sh builds it: the dependencies' features as the workspace tests
# built them, so only the program is linked (see scripts/compose-test/15-probes.sh).
cargo_cached build --locked --quiet --workspace --all-targets || fail "building chaos_load failed"
loader=$CARGO_TARGET_DIR/debug/chaos_load

# --- 1 -------------------------------------------------------------------------------------------------------------
if runs 1; then
  step "1. docker kill the worker in the middle of its tasks"
  load kill-worker --seconds 30 --slow-tasks 4
  wait_for_sql "SELECT count(*) FROM tasks WHERE task_name = 'probe' AND state = 'running'" 30
  worker=$(container worker)
  docker kill "$worker" >/dev/null
  running=$(sql "SELECT count(*) FROM tasks WHERE state = 'running'")
  echo "    killed the worker with $running tasks running; starting it again in 5 s"
  sleep 5
  docker start "$worker" >/dev/null
  settle kill-worker
  redelivered=$(sql "SELECT count(*) FROM (SELECT task_id FROM task_runs GROUP BY task_id HAVING count(*) > 1) t")
  pass "the tasks the killed worker had ran again ($redelivered tasks have more than one run), none lost or applied twice"
fi

# --- 2 -------------------------------------------------------------------------------------------------------------
if runs 2; then
  step "2. docker restart postgres"
  web_starts=$(for id in $(stack_cmd ps -q web); do docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$id"; done)
  load restart-postgres --seconds 40 --allow 503
  sleep 8
  restart_started=$SECONDS
  docker restart "$(container postgres)" >/dev/null
  echo "    postgres restarted in $((SECONDS - restart_started)) s"
  settle restart-postgres
  web_after=$(for id in $(stack_cmd ps -q web); do docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$id"; done)
  [ "$web_starts" = "$web_after" ] || fail "a web container restarted: $web_starts -> $web_after"
  code=$(curl -sS -o /dev/null -w '%{http_code}' "$base/readyz")
  [ "$code" = 200 ] || fail "/readyz after the restart: $code"
  pass "503 while PostgreSQL was down (no other failure), web recovered without a restart of its own"
fi

# --- 3 -------------------------------------------------------------------------------------------------------------
if runs 3; then
  step "3. docker stop rabbitmq for 30 s"
  load stop-rabbitmq --seconds 50
  sleep 8
  docker stop "$(container rabbitmq)" >/dev/null
  sleep 30
  docker start "$(container rabbitmq)" >/dev/null
  settle stop-rabbitmq
  pass "every request accepted while the broker was away; every task accepted meanwhile ran afterwards"
fi

# --- 4 -------------------------------------------------------------------------------------------------------------
if runs 4; then
  step "4. docker kill one of the two web replicas under load"
  load kill-web --seconds 30 --allow-post-failures
  sleep 8
  victim=$(stack_cmd ps -q web | tail -n1)
  docker kill "$victim" >/dev/null
  settle kill-web
  docker start "$victim" >/dev/null
  wait_healthy
  stack_cmd exec -T nginx nginx -e stderr -s reload 2>/dev/null
  pass "no read failed (nginx passed them on); writes cut off in flight are in the table's failed column"
fi

# --- 5 -------------------------------------------------------------------------------------------------------------
if runs 5; then
  step "5. a backup target that fills up"
  small=(-e BACKUP_LOCAL_DIR=/small-target)
  stack_cmd exec -T "${small[@]}" cron app backup create >"$work/older.log" 2>&1 \
    || { cat "$work/older.log"; fail "the first backup into the small target failed"; }
  older=$(stack_cmd exec -T "${small[@]}" cron app backup list --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['name'])")
  stack_cmd exec -T cron sh -c 'cat /dev/zero > /small-target/filler' 2>/dev/null || true
  if stack_cmd exec -T "${small[@]}" cron app cron run nightly-backup >"$work/full.log" 2>&1; then
    fail "a backup into a full target succeeded"
  fi
  grep -i 'no space left' "$work/full.log" >/dev/null || { cat "$work/full.log"; fail "the failed backup does not say the target is full"; }
  pass "the backup failed, saying: $(grep -io 'no space left on device[^"]*' "$work/full.log" | head -n1 | cut -c1-80)"
  last=$(last_cron_run nightly-backup)
  [[ "$last" == failed* ]] && grep -qi 'no space left' <<<"$last" || fail "the dashboard does not show the failed run: $last"
  pass "the dashboard (/monitor/api/cron) shows the run failed, with the error"
  listed=$(stack_cmd exec -T "${small[@]}" cron app backup list --json | python3 -c "import json,sys; print(' '.join(json.loads(l)['name'] for l in sys.stdin))")
  [ "$listed" = "$older" ] || fail "backups listed after the failure: '$listed', expected only '$older'"
  stack_cmd exec -T cron rm -f /small-target/filler
  stack_cmd exec -T "${small[@]}" cron app backup verify "$older" >"$work/verify.log" 2>&1 \
    || { cat "$work/verify.log"; fail "the older backup no longer verifies"; }
  pass "the older backup ($older) is listed alone and still verifies"
  rows+=("full-target")
fi

# --- 6 -------------------------------------------------------------------------------------------------------------
if runs 6; then
  step "6. docker kill cron in the middle of a backup"
  # 300 MB of random text (one different string a row), which no compression shrinks much: a dump of some seconds.
  sql "CREATE TABLE chaos_ballast AS SELECT g, (SELECT string_agg(md5(random()::text || i || g), '') FROM generate_series(1, 64) i) AS filler FROM generate_series(1, 150000) g" >/dev/null
  echo "    the database now holds $(sql "SELECT pg_size_pretty(pg_database_size(current_database()))")"
  before=$(stack_cmd exec -T cron app backup list --json | wc -l)
  stack_cmd exec -d cron app cron run nightly-backup
  deadline=$((SECONDS + 120))
  until stack_cmd exec -T cron sh -c "find /backups -name '*#*' -size +20M | grep . >/dev/null"; do
    [ $SECONDS -lt $deadline ] || fail "no backup in progress appeared in /backups"
    sleep 0.5
  done
  docker kill "$(container cron)" >/dev/null
  echo "    killed cron with a backup in progress (more than 20 MB of its dump written)"
  docker start "$(container cron)" >/dev/null
  wait_healthy
  after=$(stack_cmd exec -T cron app backup list --json | wc -l)
  [ "$after" = "$before" ] || fail "a partial backup is listed: $before before the kill, $after after"
  pass "no partial backup listed ($after backups, as before the kill)"
  stack_cmd exec -T cron app cron run nightly-backup >"$work/next.log" 2>&1 || { tail -n 30 "$work/next.log"; fail "the next backup run failed"; }
  newest=$(stack_cmd exec -T cron app backup list --json | head -n1)
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['verified'] is True, d" "$newest" \
    || fail "the next backup is not verified: $newest"
  interrupted=$(sql "SELECT count(*) FROM cron_runs WHERE job = 'nightly-backup' AND status = 'interrupted'")
  [ "$interrupted" -ge 1 ] || fail "the killed run is not recorded as interrupted"
  pass "the next run succeeded and verified; the killed run is recorded as interrupted"
  sql "DROP TABLE chaos_ballast" >/dev/null
  rows+=("kill-cron")
fi

# --- the table -----------------------------------------------------------------------------------------------------
step "the table"
python3 - "$work" "${rows[@]}" <<'EOF'
import json, os, sys
work, faults = sys.argv[1], sys.argv[2:]
names = {
    "kill-worker": "docker kill worker mid-task", "restart-postgres": "docker restart postgres",
    "stop-rabbitmq": "docker stop rabbitmq 30 s", "kill-web": "docker kill 1 of 2 web replicas",
    "full-target": "backup target full", "kill-cron": "docker kill cron mid-backup",
}
print(f"{'fault':<34}{'requests':>9}{'accepted':>9}{'completed':>10}{'lost':>6}{'dup':>5}{'failed':>8}{'hung':>6}  failed by status")
for fault in faults:
    path = os.path.join(work, fault + ".json")
    if os.path.exists(path):
        r = json.loads(open(path).read().strip().splitlines()[-1])
        print(f"{names[fault]:<34}{r['requests']:>9}{r['accepted']:>9}{r['completed']:>10}{r['lost']:>6}"
              f"{r['duplicated']:>5}{r['failed']:>8}{r['hung']:>6}  {r['failed_by_status'] or '-'}")
    else:
        note = {"full-target": "1 backup kept and verified, the failed one listed nowhere",
                "kill-cron": "0 partial backups listed, the next run verified"}[fault]
        print(f"{names[fault]:<34}{'-':>9}{'-':>9}{'-':>10}{0:>6}{0:>5}{'-':>8}{'-':>6}  {note}")
EOF
printf '\nchaos-test: all passed in %ss.\n' "$((SECONDS - started))"
