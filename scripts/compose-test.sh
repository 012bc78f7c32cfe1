#!/usr/bin/env bash
# End-to-end test of the compose stack, from nothing: install_docker.sh, then everything through nginx only.
set -euo pipefail

usage() {
  cat <<'EOT'
Usage: scripts/compose-test.sh [--keep] [--help]

  0. copies the checkout (tracked and untracked, not ignored files) to $CARGO_TARGET_DIR/compose-test/stack and
     works there: the checkout's own .env, .envs/*.env, nginx/certs and running stacks are never touched
  1. ./install_docker.sh (local): images, stack, migrations, admin user; prints the time from up to all-healthy
  2. through nginx only: / renders with security headers; its content-hashed stylesheet comes from nginx (the web
     role's log never sees it), gzipped and cached as immutable; an 11 MB body is refused; signup, the
     verification mail in the mail catcher (so the worker ran the task), verify, logout, login, the notes API
     create/read/update/delete; the pages' HTTP forms from signup to a note (CSRF, errors); a .scss edit reaches
     the CSS nginx serves within 5 s (the frontend watcher); with web stopped, nginx shows the site's own page;
     /monitor/ refused without a session (401, or the login page) and to a non-staff user (403), open to staff;
     /api/openapi.json is OpenAPI 3.1 and /api/docs lists it; schemathesis (PyPI, installed under
     /opt/app-schemathesis) runs it against the stack with an account of its own, stateful and with bad input
     (180 s at most): no 5xx, nothing outside the document; its summary is printed
  3. every container healthy and not root; only nginx publishes a port; no capabilities (effective and bounding
     sets from /proc/PID/status), no_new_privs, a read-only root and a pids limit
  4. google_storage.sh -b, -l, -r: a backup of the stack restored over changed data brings the data back; then
     the same with BACKUP_STORAGE=gcs against a GCS server (gcp-storage-emulator) on the stack's network gateway,
     with -a storing a service-account key first
  5. ./install_docker.sh again: still healthy, no data lost; then the plain commands on the installed stack, with
     no flags: `docker-compose up -d` recreates nothing, `ps` lists every service, `restart worker` comes back
     healthy, `down` then `up -d` keeps the data; then down -v
  6. dev.yml over HTTPS: its basic-auth wall refuses without or with wrong credentials (pages and API), lets the
     right ones in, a tester can sign up (Secure cookie); HTTP redirects; the plain commands as in 5 with
     `-f dev.yml`; the wall's password is stored as bcrypt; then down -v
  7. prod.yml: docker-compose config and its Swarm form (scripts/swarm.sh validate) are valid; the prod stack
     serves HTTPS with HSTS, redirects HTTP, and keeps PostgreSQL and RabbitMQ on the internal network; its
     containers are hardened as in 3; a redeploy (a stylesheet edit, install_docker.sh --env prod again) under
     200 requests/s over HTTPS (bench's chaos_load): every web and worker container replaced, 0 failed requests,
     every accepted note kept; 25 sign-ins at once from one address are cut off by nginx (429, JSON)
  8. the by-hand path of README.md in a fresh copy: the env sample with secrets put in, a .env naming the base
     images and the host-built binary (this machine cannot pull), `docker-compose up -d`: healthy, migrated, serving

  --keep   leave the local stack running at the end (for a look around)

Runs under the compose project names ${COMPOSE_TEST_PROJECT:-apptest}, ...dev, ...prod and ...hand, on ports
${COMPOSE_TEST_PORT:-18080} and the five after it. Needs Docker, curl and python3; root for the first run of
scripts/base-images.sh (debootstrap) when the official images cannot be pulled.
EOT
}

keep=0
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --keep) keep=1 ;;
  "") ;;
  *) echo "compose-test: unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
script_name=compose-test
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
project=${COMPOSE_TEST_PROJECT:-apptest}
port=${COMPOSE_TEST_PORT:-18080}
base=http://127.0.0.1:$port
work=$(mktemp -d)
use_build_cache
# The test's own copy of the checkout, under the build directory (ignored by git). A stable path, with file times
# kept, lets cargo reuse the release build of the previous run.
stack=$CARGO_TARGET_DIR/compose-test/stack

require_compose
# Every compose command runs in the copy; these name their stack explicitly (cleanup must work whatever .env says).
in_stack() { (cd "$stack" && "$@"); }
in_hand() { [ ! -d "$hand" ] || (cd "$hand" && "$@"); }
local_stack=(in_stack "${compose_cmd[@]}" -p "$project" -f docker-compose.yml)
dev_stack=(in_stack "${compose_cmd[@]}" -p "${project}dev" -f dev.yml)
prod_stack=(in_stack "${compose_cmd[@]}" -p "${project}prod" -f prod.yml)
hand=$CARGO_TARGET_DIR/compose-test/by-hand
hand_stack=(in_hand "${compose_cmd[@]}" -p "${project}hand" -f docker-compose.yml)
# The plain commands a user types in the folder: no -p, no -f (dev: -f dev.yml), nothing exported; .env decides.
plain() { (cd "$here" && env -u COMPOSE_PROJECT_NAME -u COMPOSE_FILE -u HTTP_PORT -u HTTPS_PORT "${compose_cmd[@]}" "$@"); }
here=$stack

cleanup() {
  local status=$?
  if [ $status -ne 0 ]; then
    echo "compose-test: FAILED; state of the stack:" >&2
    "${local_stack[@]}" ps >&2 2>/dev/null || true
    "${local_stack[@]}" logs --no-color --tail 30 >&2 2>/dev/null || true
  fi
  if [ $keep -eq 0 ] || [ $status -ne 0 ]; then
    "${local_stack[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  "${dev_stack[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  "${prod_stack[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  "${hand_stack[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  [ -z "${gcs_pid:-}" ] || kill "$gcs_pid" 2>/dev/null || true
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT

started=$SECONDS
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# HTTP through nginx: prints the status; body in $work/body, headers in $work/headers.
http() {
  local method=$1 path=$2; shift 2
  curl -sS -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method" \
    -b "$work/cookies" -c "$work/cookies" "$@" "$base$path"
}
expect() {
  local want=$1 got=$2 what=$3
  [ "$got" = "$want" ] || fail "$what: expected HTTP $want, got $got: $(head -c 400 "$work/body")"
  pass "$what ($got)"
}

# Every container of the plain stack ("$@": extra compose flags) running and healthy, one-offs exited 0.
wait_healthy() {
  local pending
  pending=$(wait_stack_healthy 240 plain "$@") || fail "not healthy after 240s: $pending"
}

# The commands of the README on an installed stack ("$@": -f dev.yml, or nothing), and that they keep the data
# the function named by $1 proves is there.
plain_commands() {
  local check_data=$1 before after listed service
  shift
  local cmd="docker-compose${*:+ $*}"
  before=$(plain "$@" ps -q | sort)
  [ -n "$before" ] || fail "plain $cmd ps finds no container: .env does not name the stack"
  plain "$@" up -d >"$work/plain-up.log" 2>&1 || { cat "$work/plain-up.log"; fail "plain $cmd up -d failed"; }
  after=$(plain "$@" ps -q | sort)
  [ "$before" = "$after" ] || { cat "$work/plain-up.log"; fail "plain $cmd up -d recreated containers"; }
  ! grep -qiE 'recreating|building|pulling' "$work/plain-up.log" \
    || { cat "$work/plain-up.log"; fail "plain $cmd up -d rebuilt or recreated something"; }
  pass "$cmd up -d: every container kept (same ids, nothing built or pulled)"
  listed=$(plain "$@" ps)
  for service in $(plain "$@" config --services); do
    [ "$service" = migrate ] && continue # a one-off: it ran and exited
    grep -qE "[_-]${service}[_-]1 " <<<"$listed" || fail "$cmd ps does not list $service: $listed"
  done
  pass "$cmd ps lists every service"
  listed=$(plain "$@" logs --no-color --tail 5 web)
  [ -n "$listed" ] || fail "$cmd logs web shows nothing"
  pass "$cmd logs web"
  plain "$@" restart worker >/dev/null 2>&1 || fail "$cmd restart worker failed"
  sleep 3
  wait_healthy "$@"
  pass "$cmd restart worker: healthy again"
  plain "$@" down >/dev/null 2>&1 || fail "$cmd down failed"
  [ -z "$(plain "$@" ps -q)" ] || fail "containers left after $cmd down"
  plain "$@" up -d >"$work/plain-up.log" 2>&1 || { cat "$work/plain-up.log"; fail "$cmd up -d after down failed"; }
  wait_healthy "$@"
  # nginx may have resolved the old web address; the stack's own healthchecks passed, so ask through it now.
  "$check_data"
  pass "$cmd down, then up -d: healthy, and the data is still there"
}

# The phases, in order: scripts/compose-test/NN-name.sh, each one step or a few, sharing the variables and helpers
# above (and the ones an earlier phase defines, such as `form`).
for phase in "$root"/scripts/compose-test/[0-9][0-9]-*.sh; do
  # shellcheck source=/dev/null
  . "$phase"
done
