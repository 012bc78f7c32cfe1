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

fail() { echo "compose-test: FAIL: $*" >&2; exit 1; }
pass() { echo "    ok: $*"; }
# Each step with the seconds since the script started (test.sh prints each part's time; this is within a part).
started=$SECONDS
step() { printf '\n--> [%ss] %s\n' "$((SECONDS - started))" "$*"; }
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
# the caller's check_data proves is there.
plain_commands() {
  local before after listed service
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
  check_data
  pass "$cmd down, then up -d: healthy, and the data is still there"
}

# --- 1 -----------------------------------------------------------------------------------------------------------
step "install_docker.sh (local) from nothing, in a copy of the checkout"
"${local_stack[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
copy_checkout "$stack"
cd "$stack"
COMPOSE_PROJECT_NAME=$project HTTP_PORT=$port ./install_docker.sh --timeout 400 | tee "$work/install.log"
healthy_after=$(sed -n 's/.*every service is healthy (\([0-9]*\)s after up).*/\1/p' "$work/install.log")
[ -n "$healthy_after" ] || fail "install_docker.sh did not report the stack healthy"

# --- 2 -----------------------------------------------------------------------------------------------------------
step "through nginx"
expect 200 "$(http GET /)" "GET / renders"
grep -q '<html' "$work/body" || fail "/ is not a page"
grep -qi '^content-security-policy:' "$work/headers" || fail "no Content-Security-Policy on /"
grep -qi "^x-content-type-options: nosniff" "$work/headers" || fail "no nosniff on /"
css_path=$(grep -oE '/static/css/site\.[0-9a-f]{8}\.css' "$work/body" | head -n1)
[ -n "$css_path" ] || fail "the home page links no content-hashed stylesheet"

marker=probe-$RANDOM$RANDOM
expect 404 "$(http GET "/no-such-page-$marker")" "an unknown page is proxied to the app"
expect 200 "$(http GET "$css_path")" "GET $css_path (the page's hashed stylesheet)"
grep -q 'font-family' "$work/body" || fail "the stylesheet's content is not served"
grep -qi '^etag:' "$work/headers" || fail "the static answer carries no ETag: not nginx's file server?"
grep -qi '^cache-control: public, max-age=31536000, immutable' "$work/headers" \
  || fail "a hashed asset is not cached as immutable: $(grep -i '^cache-control' "$work/headers")"
pass "a hashed asset is cached for a year, immutable"
expect 200 "$(http GET /static/robots.txt)" "GET /static/robots.txt (not hashed)"
grep -qi '^cache-control: no-cache' "$work/headers" || fail "an unhashed static file is not revalidated"
pass "an unhashed static file is revalidated (no-cache)"
encoding=$(curl -sS -o /dev/null -D - -H 'Accept-Encoding: gzip' "$base$css_path" | tr -d '\r' \
  | sed -n 's/^[Cc]ontent-[Ee]ncoding: //p')
[ "$encoding" = gzip ] || fail "nginx does not gzip the stylesheet (Content-Encoding: '$encoding')"
pass "nginx compresses text answers (gzip)"
code=$(head -c 11000000 /dev/zero | curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @- "$base/api/notes")
[ "$code" = 413 ] || fail "an 11 MB request body was not refused by nginx (got $code)"
pass "nginx refuses a body over its 10 MB limit (413)"
sleep 1
# A missing static file: nginx answers 404 itself; had it been proxied, the web role would log its path.
expect 404 "$(http GET "/static/missing-$marker.css")" "a missing static file is nginx's 404"
sleep 1
weblog=$("${local_stack[@]}" logs --no-color web)
grep -q "no-such-page-$marker" <<<"$weblog" || fail "the app's log does not show proxied requests (the check below would prove nothing)"
! grep -q "missing-$marker" <<<"$weblog" || fail "the web role saw a /static/ request"
pass "nginx served the static files; the web role's log has the proxied request and not the /static/ one"

email="e2e-$marker@example.com"
password="correct horse battery staple"
body=$(printf '{"email":"%s","password":"%s"}' "$email" "$password")
expect 201 "$(http POST /api/auth/signup -H 'Content-Type: application/json' -d "$body")" "signup"
csrf=$(json 'd["csrf_token"]' < "$work/body")

mail_text=""
for _ in $(seq 60); do
  mail_text=$(curl -sS "$base/mail/api/messages" | python3 -c "
import json,sys
for m in json.load(sys.stdin):
    if '$email' in m['to']: print(m['text']); break" || true)
  [ -n "$mail_text" ] && break
  sleep 1
done
[ -n "$mail_text" ] || fail "no verification mail to $email reached the mail catcher within 60s"
pass "the verification mail reached the mail catcher (outbox, RabbitMQ, worker, SMTP)"
token=$(grep -oE 'token=[A-Za-z0-9_-]+' <<<"$mail_text" | head -n1 | cut -d= -f2)
[ -n "$token" ] || fail "no token link in the mail: $mail_text"
expect 200 "$(http POST /api/auth/verify-email -H 'Content-Type: application/json' -d "{\"token\":\"$token\"}")" \
  "the mail's token verifies the address"
"${local_stack[@]}" exec -T web app tasks list --json --state succeeded | grep '"email.send"' >/dev/null \
  || fail "app tasks list shows no succeeded email.send task"
pass "the worker recorded the email.send task as succeeded"

expect 204 "$(http POST /api/auth/logout -H "X-CSRF-Token: $csrf")" "logout"
expect 401 "$(http GET /api/notes)" "notes need a session"
expect 200 "$(http POST /api/auth/login -H 'Content-Type: application/json' -d "$body")" "login"
csrf=$(json 'd["csrf_token"]' < "$work/body")

expect 201 "$(http POST /api/notes -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
  -d '{"title":"first","body":"created through nginx"}')" "create a note"
note=$(json 'd["id"]' < "$work/body")
expect 200 "$(http GET "/api/notes/$note")" "read it"
[ "$(json 'd["title"]' < "$work/body")" = first ] || fail "read back a different note"
expect 200 "$(http PATCH "/api/notes/$note" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
  -d '{"title":"renamed"}')" "update it"
[ "$(json 'd["title"]' < "$work/body")" = renamed ] || fail "the update did not apply"
expect 403 "$(http POST /api/notes -H 'Content-Type: application/json' -d '{"title":"x","body":"y"}')" \
  "a write without the CSRF token is refused"
expect 204 "$(http DELETE "/api/notes/$note" -H "X-CSRF-Token: $csrf")" "delete it"
expect 404 "$(http GET "/api/notes/$note")" "it is gone"
expect 201 "$(http POST /api/notes -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
  -d '{"title":"keep","body":"must survive a second install and a restore"}')" "create a note to keep"
kept=$(json 'd["id"]' < "$work/body")

# A file on the kept note: the web role checks the owner and hands the file to nginx (X-Accel-Redirect), which
# sends it from the media volume with the safe headers; its internal location cannot be asked for directly.
printf '\x89PNG\r\n\x1a\n' >"$work/photo.png"
head -c 200000 /dev/urandom >>"$work/photo.png"
expect 201 "$(http POST "/api/notes/$kept/files" -H "X-CSRF-Token: $csrf" -F "file=@$work/photo.png;filename=photo.png")" \
  "attach a PNG to the kept note"
file_url=$(json 'd["url"]' < "$work/body")
expect 200 "$(http GET "$file_url")" "download it"
cmp -s "$work/body" "$work/photo.png" || fail "the downloaded file differs from the uploaded one"
for want in '^content-type: image/png' '^x-content-type-options: nosniff' "^content-security-policy: default-src 'none'; sandbox" \
  '^content-disposition: inline' '^etag:'; do
  grep -qi "$want" "$work/headers" || fail "the file's answer lacks $want: $(cat "$work/headers")"
done
pass "the same bytes, from nginx's file server (ETag), with its type, nosniff and a sandbox"
expect 206 "$(http GET "$file_url" -H 'Range: bytes=8-15')" "a range of it"
cmp -s "$work/body" <(tail -c +9 "$work/photo.png" | head -c 8) || fail "the range holds other bytes"
stored=$("${local_stack[@]}" exec -T nginx find /srv/media/notes -type f | tr -d '\r' | head -n1)
[ -n "$stored" ] || fail "no file in the media volume"
expect 404 "$(http GET "/media/${stored#/srv/media/}")" "the volume's internal location, asked directly"
expect 401 "$(curl -sS -o "$work/body" -w '%{http_code}' "$base$file_url")" "the file without a session"

step "pages through nginx: HTTP forms from signup to a note, the watcher, the page for a web role that is down"
jar=$work/page-cookies
# A browser's form post: its Origin, Accept: text/html, the page's cookies; no redirect followed.
form() {
  local path=$1; shift
  curl -sS -o "$work/body" -D "$work/headers" -w '%{http_code}' -b "$jar" -c "$jar" -H "Origin: $base" \
    -H 'Accept: text/html' "$@" "$base$path"
}
location() { tr -d '\r' < "$work/headers" | sed -n 's/^[Ll]ocation: //p'; }
form_email="forms-$marker@example.com"
expect 303 "$(form /signup --data-urlencode "email=$form_email" --data-urlencode "password=$password")" \
  "the signup form creates the account"
[ "$(location)" = /notes ] || fail "signup redirects to $(location), not /notes"
expect 200 "$(form /notes)" "the notes page, signed in by the form's cookie"
grep -q 'Welcome!' "$work/body" || fail "no welcome message on the notes page"
page_csrf=$(grep -oE 'name="csrf_token" value="[^"]+"' "$work/body" | head -n1 | cut -d'"' -f4)
[ -n "$page_csrf" ] || fail "the notes page has no CSRF field"
expect 422 "$(form /notes --data-urlencode 'title=' --data-urlencode 'body=kept' -d "csrf_token=$page_csrf")" \
  "a note without a title is refused"
grep -q 'id="title-error"' "$work/body" || fail "the refused form shows no error beside the title"
expect 303 "$(form /notes --data-urlencode "title=form note $marker" --data-urlencode 'body=through nginx' \
  -d "csrf_token=$page_csrf")" "the note form creates the note"
expect 200 "$(form /notes)" "the list shows it"
grep -q "form note $marker" "$work/body" || fail "the new note is not on the list"
expect 403 "$(form /notes --data-urlencode 'title=forged' -d 'csrf_token=wrong')" "a form with a wrong CSRF token"

step "the monitoring dashboard through nginx: staff only"
code=$(curl -sS -o "$work/body" -w '%{http_code}' "$base/monitor/")
[ "$code" = 401 ] || fail "/monitor/ without a session answered $code, not 401"
pass "/monitor/ refuses a script without a session (401)"
code=$(curl -sS -o /dev/null -D "$work/headers" -w '%{http_code}' -H 'Accept: text/html' "$base/monitor/")
[ "$code" = 303 ] && [ "$(location)" = "/login?next=%2Fmonitor%2F" ] \
  || fail "a browser without a session was not sent to the login page ($code, $(location))"
pass "a browser without a session is sent to the login page"
expect 403 "$(form /monitor/)" "a signed-in user who is not staff is refused"
staff_jar=$work/staff-cookies
admin=$(printf '{"email":"%s","password":"%s"}' "$(sed -n 's/^ADMIN_EMAIL=//p' .envs/local.env)" \
  "$(sed -n 's/^ADMIN_PASSWORD=//p' .envs/local.env)")
code=$(curl -sS -o /dev/null -w '%{http_code}' -c "$staff_jar" -H 'Content-Type: application/json' -d "$admin" \
  "$base/api/auth/login")
[ "$code" = 200 ] || fail "the admin user made by install_docker.sh cannot sign in ($code)"
code=$(curl -sS -o "$work/body" -w '%{http_code}' -b "$staff_jar" -H 'Accept: text/html' "$base/monitor/")
[ "$code" = 200 ] && grep -q '<svg class="chart"' "$work/body" \
  || fail "staff did not get the dashboard's overview ($code): $(head -c 300 "$work/body")"
pass "staff open the dashboard's overview through nginx"
code=$(curl -sS -o "$work/body" -w '%{http_code}' -b "$staff_jar" -H 'Accept: text/html' \
  "$base/monitor/tasks?state=succeeded&name=email.send")
[ "$code" = 200 ] && grep -q 'email.send' "$work/body" \
  || fail "the dashboard's task history does not show the mail task the worker ran ($code)"
pass "the dashboard's history shows the email.send task the worker ran"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$base/metrics")
[ "$code" = 404 ] || fail "nginx published /metrics ($code, not 404)"
pass "nginx does not publish /metrics"
# A scraper on the stack's network (here the nginx container, with bash's /dev/tcp) reads the dashboard's metrics.
"${local_stack[@]}" exec -T nginx bash -c 'exec 3<>/dev/tcp/monitoring-dashboard/8000
  printf "GET /metrics HTTP/1.0\r\nHost: monitoring-dashboard\r\n\r\n" >&3; cat <&3' > "$work/metrics" \
  || fail "the dashboard's /metrics did not answer on the compose network"
grep -q '^task_runs_finished_total{.*task="email.send"' "$work/metrics" \
  && grep -q '^workers_online ' "$work/metrics" && grep -q '^rabbitmq_queue_messages_ready{' "$work/metrics" \
  || fail "the dashboard's /metrics lacks the task, worker or queue figures: $(head -c 600 "$work/metrics")"
pass "the dashboard's /metrics, scraped on the compose network, counts the email.send run"

scss=frontend/scss/_alerts.scss
original_scss=$(cat "$scss")
printf '\n.compose-probe-%s { color: red; }\n' "$marker" >> "$scss"
saved=$SECONDS
saved_ms=$(($(date +%s%N) / 1000000))
seen=""
while [ $((SECONDS - saved)) -le 5 ]; do
  now_css=$(curl -sS "$base/" | grep -oE '/static/css/site\.[0-9a-f]{8}\.css' | head -n1)
  if [ -n "$now_css" ] && [ "$now_css" != "$css_path" ] && curl -sS "$base$now_css" | grep "compose-probe-$marker" >/dev/null; then
    seen=$(($(date +%s%N) / 1000000 - saved_ms))
    break
  fi
  sleep 0.3
done
printf '%s\n' "$original_scss" > "$scss"
[ -n "$seen" ] || fail "a .scss edit did not reach the CSS served through nginx within 5 s ($("${local_stack[@]}" logs --no-color --tail 20 frontend))"
pass "a .scss edit is in the CSS served through nginx after ${seen} ms (the frontend watcher, no restart)"

"${local_stack[@]}" stop web >/dev/null 2>&1
code=$(http GET / -H 'Accept: text/html')
case "$code" in 502|504) ;; *) fail "with web stopped, nginx answered $code (expected 502 or 504)" ;; esac
grep -q 'Back in a moment' "$work/body" || fail "nginx did not serve the site's own page for a web role that is down"
pass "the page nginx shows while web is down is the site's own (errors/50x.html)"
"${local_stack[@]}" start web >/dev/null 2>&1
deadline=$((SECONDS + 90))
until [ "$(http GET /healthz)" = 200 ]; do
  [ $SECONDS -lt $deadline ] || fail "web did not come back within 90 s"
  # The restarted container may have a new address: nginx looks it up again on reload (see Troubleshooting).
  "${local_stack[@]}" exec -T nginx nginx -e stderr -s reload >/dev/null 2>&1 || true
  sleep 2
done
web_id=$("${local_stack[@]}" ps -q web)
until [ "$(docker inspect -f '{{.State.Health.Status}}' "$web_id")" = healthy ]; do
  [ $SECONDS -lt $deadline ] || fail "web did not report healthy again within 90 s"
  sleep 1
done
pass "web is back, healthy"

step "the API as a contract: its OpenAPI document, the page, and schemathesis through nginx"
expect 200 "$(http GET /api/openapi.json)" "GET /api/openapi.json"
version=$(json 'd["openapi"]' < "$work/body")
[[ "$version" == 3.1.* ]] || fail "the API document is OpenAPI $version, not 3.1"
expect 200 "$(http GET /api/docs)" "GET /api/docs (the API page)"
grep -q '/api/notes/{id}' "$work/body" || fail "the API page does not list the notes operations"
python_venv /opt/app-schemathesis 'schemathesis==4.32.5'
# Last on the local stack's pages and API: its sign-ins fill the per-address login limits (nginx's and the
# application's) that the steps above log in under. The fuzzer gets an account of its own (what it creates, changes and deletes is its own), signed in by cookie and
# CSRF header. Everything in the document but logout, which would end that session: stateful sequences through
# the document's links (create a note, then read, change, delete it, attach files), and bad inputs. Every answer
# must be documented and match its schema, and none may be a 5xx. Bounded: 25 cases per operation, 180 s.
st_jar=$work/st-cookies
code=$(curl -sS -c "$st_jar" -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"email\":\"fuzz-$marker@example.com\",\"password\":\"$password\"}" "$base/api/auth/signup")
[ "$code" = 201 ] || fail "signing up the fuzzer's account: HTTP $code"
st_csrf=$(json 'd["csrf_token"]' < "$work/body")
st_session=$(awk '$6 == "session" {print $7}' "$st_jar")
[ -n "$st_session" ] || fail "no session cookie for the fuzzer's account"
# The document's two security schemes get these values, so schemathesis also tries every operation without them.
cat >"$work/schemathesis.toml" <<'EOT'
[auth.openapi.session]
api_key = "${ST_SESSION}"

[auth.openapi.csrf]
api_key = "${ST_CSRF}"
EOT
st_started=$SECONDS
if ! (cd "$work" && ST_SESSION=$st_session ST_CSRF=$st_csrf /opt/app-schemathesis/bin/st \
  --config-file "$work/schemathesis.toml" run "$base/api/openapi.json" --no-color \
  --checks all --exclude-checks positive_data_acceptance --exclude-path /api/auth/logout \
  --max-examples 25 --max-time 180 --workers 2 --generation-database none >"$work/schemathesis.log" 2>&1); then
  cat "$work/schemathesis.log"
  fail "schemathesis found answers that break the API's contract (above)"
fi
sed -n '/SUMMARY/,$p' "$work/schemathesis.log"
pass "schemathesis: no 5xx and no answer outside the document ($((SECONDS - st_started))s)"

# --- 3 -----------------------------------------------------------------------------------------------------------
step "containers"
# The hardening of every running container of a stack ("$@": its compose command), read from the kernel
# (/proc/PID/status of its main process) and from Docker: no capability in the effective or bounding set (cap_drop:
# ALL, none added back), no_new_privs, a read-only root filesystem and a pids limit.
check_hardened() {
  local id service pid readonly pids caps
  for id in $("$@" ps -q); do
    read -r service pid readonly pids < <(docker inspect -f \
      '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Pid}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.PidsLimit}}' "$id")
    [ "$pid" != 0 ] || continue
    caps=$(awk '/^(CapEff|CapBnd|NoNewPrivs):/ {printf "%s%s ", $1, $2}' "/proc/$pid/status")
    [ "$caps" = "CapEff:0000000000000000 CapBnd:0000000000000000 NoNewPrivs:1 " ] \
      || fail "$service is not hardened: $caps"
    [ "$readonly" = true ] || fail "$service has a writable root filesystem"
    [ "$pids" != "<nil>" ] && [ "${pids:-0}" -gt 0 ] || fail "$service has no pids limit"
    pass "$service: no capabilities (effective and bounding), no_new_privs, read-only root, at most $pids pids"
  done
}
check_hardened "${local_stack[@]}"
for id in $("${local_stack[@]}" ps -q); do
  read -r service status health pid < <(docker inspect -f \
    '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.Pid}}' "$id")
  ports=$(docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{if $b}}{{$p}} {{end}}{{end}}' "$id")
  if [ "$status" = exited ]; then
    [ "$service" = migrate ] || fail "$service exited"
    continue
  fi
  [ "$health" = healthy ] || fail "$service is $health"
  uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
  [ "$uid" != 0 ] || fail "$service runs as root"
  if [ "$service" = nginx ]; then
    [ -n "$ports" ] || fail "nginx publishes no port"
  else
    [ -z "$ports" ] || fail "$service publishes $ports"
  fi
  pass "$service: healthy, uid $uid${ports:+, publishes $ports}"
done

# --- 4 -----------------------------------------------------------------------------------------------------------
step "google_storage.sh: back up, list, restore (the stack found through .env)"
./google_storage.sh -b
listing=$(./google_storage.sh -l)
echo "$listing"
url=$(grep -oE '[a-z0-9]+://[^ ]+' <<<"$listing" | head -n1)
[ -n "$url" ] || fail "google_storage.sh -l lists no backup"
expect 200 "$(http PATCH "/api/notes/$kept" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
  -d '{"title":"changed after the backup"}')" "change the kept note after the backup"
./google_storage.sh -r "$url" -y
expect 200 "$(http GET "/api/notes/$kept")" "after the restore the note is readable"
[ "$(json 'd["title"]' < "$work/body")" = keep ] || fail "the restore did not bring back the backed-up title"
pass "the restore brought back the state of the backup"

step "google_storage.sh -a, -b, -l, -r with BACKUP_STORAGE=gcs (a GCS server on the stack's network gateway)"
# The GCS server (gcp-storage-emulator, installed by scripts/services.sh) listens on the host's address on the
# stack's network, where the cron container reaches it; it is this test's own process, stopped by PID below.
cron_id=$("${local_stack[@]}" ps -q cron)
gateway=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.Gateway}}{{"\n"}}{{end}}' "$cron_id" | head -n1)
[ -n "$gateway" ] || fail "no network gateway for the cron container"
gcs_port=$((port + 23))
/opt/app-gcs/bin/python "$root/scripts/gcs-server.py" start -H "$gateway" --port "$gcs_port" --in-memory -q >"$work/gcs.log" 2>&1 &
gcs_pid=$!
for _ in $(seq 30); do curl -s -o /dev/null "http://$gateway:$gcs_port/" && break; sleep 1; done
gcs_bucket=stack-backups-$marker
curl -sSf -o /dev/null -X POST "http://$gateway:$gcs_port/storage/v1/b?project=test" \
  -H 'Content-Type: application/json' -d "{\"name\":\"$gcs_bucket\"}" || fail "the GCS server did not create a bucket"
cp .envs/local.env "$work/local.env.before"
sed -i 's/^BACKUP_STORAGE=.*/BACKUP_STORAGE=gcs/' .envs/local.env
printf 'BACKUP_BUCKET=%s\nGCS_BASE_URL=http://%s:%s\n' "$gcs_bucket" "$gateway" "$gcs_port" >> .envs/local.env
"${local_stack[@]}" up -d cron >/dev/null 2>&1 || fail "recreating cron with BACKUP_STORAGE=gcs failed"
wait_healthy
# A service-account key of the real shape with a real RSA key; `disable_oauth` because the emulator takes no
# tokens (the signed-token path is tested on its own in web/tests/integration/gcs_auth.rs).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/sa.pem" 2>/dev/null
python3 - "$work/sa.pem" > "$work/sa.json" <<'PY'
import json, sys
print(json.dumps({"type": "service_account", "project_id": "test", "private_key_id": "k1",
                  "private_key": open(sys.argv[1]).read(), "client_email": "backups@test.iam.gserviceaccount.com",
                  "disable_oauth": True}))
PY
./google_storage.sh -a "$work/sa.json" | tee "$work/gcs-a.log"
grep -q 'the credentials work' "$work/gcs-a.log" || fail "google_storage.sh -a did not prove the GCS key"
./google_storage.sh -b
listing=$(./google_storage.sh -l)
echo "$listing"
gs_url=$(grep -oE 'gs://[^ ]+' <<<"$listing" | head -n1)
[ -n "$gs_url" ] || fail "google_storage.sh -l lists no gs:// backup"
objects=$(curl -sS "http://$gateway:$gcs_port/storage/v1/b/$gcs_bucket/o")
grep -q '\.dump"' <<<"$objects" && grep -q '\.manifest\.json"' <<<"$objects" \
  || fail "the GCS bucket does not hold the dump and its manifest: $objects"
pass "the backup is in the GCS bucket (dump and manifest)"
expect 200 "$(http PATCH "/api/notes/$kept" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
  -d '{"title":"changed after the GCS backup"}')" "change the kept note after the GCS backup"
./google_storage.sh -r "$gs_url" -y
expect 200 "$(http GET "/api/notes/$kept")" "after the GCS restore the note is readable"
[ "$(json 'd["title"]' < "$work/body")" = keep ] || fail "the GCS restore did not bring back the backed-up title"
pass "the restore from GCS brought back the state of the backup"
cp "$work/local.env.before" .envs/local.env
"${local_stack[@]}" exec -T cron rm -f /run/credentials/gcs.json
rm -f cron/credentials/gcs.json
"${local_stack[@]}" up -d cron >/dev/null 2>&1 || fail "recreating cron with local backups failed"
kill "$gcs_pid" 2>/dev/null || true
wait "$gcs_pid" 2>/dev/null || true
wait_healthy

# --- 5 -----------------------------------------------------------------------------------------------------------
step "install_docker.sh again"
COMPOSE_PROJECT_NAME=$project HTTP_PORT=$port ./install_docker.sh --timeout 400 >"$work/install2.log" 2>&1 \
  || { cat "$work/install2.log"; fail "the second install_docker.sh failed"; }
grep -q 'every service is healthy' "$work/install2.log" || fail "the second run did not report healthy"
grep -q 'already exists; nothing changed' "$work/install2.log" || fail "the second run did not keep the admin user"
expect 200 "$(http GET "/api/notes/$kept")" "after the second install the kept note is still there"
pass "second install: healthy, admin kept, data kept"
lines=$(grep -c '' "$work/install2.log")
[ "$lines" -le 40 ] || { cat "$work/install2.log"; fail "install_docker.sh printed $lines lines; its detail belongs in install_docker.log"; }
grep -qE '^==> \[[0-9]+:[0-9]{2}\] 4/9 build' "$work/install2.log" || fail "install_docker.sh does not print its steps with the time"
[ -s install_docker.log ] || fail "install_docker.sh wrote no install_docker.log"
pass "install_docker.sh: $lines lines on the terminal, one per step with its time; the detail in install_docker.log"

step "the plain compose commands on the installed local stack"
grep -q "^COMPOSE_PROJECT_NAME=$project\$" .env && grep -q '^COMPOSE_FILE=docker-compose.yml$' .env \
  || fail ".env does not name the stack: $(cat .env)"
check_data() {
  expect 200 "$(http GET "/api/notes/$kept")" "the kept note, read with the old session"
}
plain_commands

# --- 6 -----------------------------------------------------------------------------------------------------------
step "dev.yml: the basic-auth wall"
if [ $keep -eq 0 ]; then "${local_stack[@]}" down -v --remove-orphans >/dev/null 2>&1; fi
dev_http=$((port + 1)) dev_https=$((port + 2))
COMPOSE_PROJECT_NAME=${project}dev HTTP_PORT=$dev_http HTTPS_PORT=$dev_https \
  ./install_docker.sh --env dev --timeout 400 >"$work/dev.log" 2>&1 \
  || { cat "$work/dev.log"; fail "install_docker.sh --env dev failed"; }
dev_user=$(sed -n 's/^BASIC_AUTH_USER=//p' .envs/dev.env)
dev_password=$(sed -n 's/^BASIC_AUTH_PASSWORD=//p' .envs/dev.env)
dev=https://127.0.0.1:$dev_https
code=$(curl -sSk -o /dev/null -w '%{http_code}' "$dev/")
[ "$code" = 401 ] || fail "dev without credentials: expected 401, got $code"
pass "dev refuses without credentials (401)"
code=$(curl -sSk -o /dev/null -w '%{http_code}' "$dev/api/notes")
[ "$code" = 401 ] && curl -sSk -D - -o /dev/null "$dev/api/notes" | grep -i '^www-authenticate: basic' >/dev/null \
  || fail "dev's API is not behind the wall"
pass "dev's API is behind the wall too"
code=$(curl -sSk -o /dev/null -w '%{http_code}' -u "$dev_user:wrong-$dev_password" "$dev/")
[ "$code" = 401 ] || fail "dev with a wrong password: expected 401, got $code"
pass "dev refuses a wrong password (401)"
code=$(curl -sSk -o /dev/null -w '%{http_code}' -u "$dev_user:$dev_password" "$dev/")
[ "$code" = 200 ] || fail "dev with the credentials: expected 200, got $code"
pass "dev lets the right credentials in (200)"
dev_nginx=$("${dev_stack[@]}" ps -q nginx)
docker exec "$dev_nginx" grep -q '^[^:]*:\$2y\$06\$' /tmp/nginx/htpasswd || fail "dev's wall password is not hashed with bcrypt"
pass "dev's wall password is stored as a bcrypt hash (htpasswd -B)"
headers=$(curl -sSk -D - -o /dev/null -u "$dev_user:$dev_password" -H 'Content-Type: application/json' \
  -d '{"email":"tester@example.com","password":"correct horse battery staple"}' "$dev/api/auth/signup")
grep -q '^HTTP/[0-9.]* 201' <<<"$headers" && grep -qi '^set-cookie: session=.*Secure' <<<"$headers" \
  || fail "signup on dev over HTTPS: $headers"
pass "dev serves HTTPS: a tester can sign up and gets a Secure session cookie"
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$dev_http/")
[ "$code" = 301 ] || fail "dev over HTTP: expected a redirect, got $code"
pass "dev redirects HTTP to HTTPS"
check_data() {
  local code
  code=$(curl -sSk -o /dev/null -w '%{http_code}' -u "$dev_user:$dev_password" -H 'Content-Type: application/json' \
    -d '{"email":"tester@example.com","password":"correct horse battery staple"}' "$dev/api/auth/login")
  [ "$code" = 200 ] || fail "the dev tester cannot log in any more (HTTP $code): the account is gone"
}
plain_commands -f dev.yml
"${dev_stack[@]}" down -v --remove-orphans >/dev/null 2>&1

# --- 7 -----------------------------------------------------------------------------------------------------------
step "prod.yml: config, its Swarm form, and the stack over TLS"
prod_http=$((port + 3)) prod_https=$((port + 4))
COMPOSE_PROJECT_NAME=${project}prod HTTP_PORT=$prod_http HTTPS_PORT=$prod_https \
  ./install_docker.sh --env prod --timeout 400 >"$work/prod.log" 2>&1 \
  || { cat "$work/prod.log"; fail "install_docker.sh --env prod failed"; }
"${compose_cmd[@]}" -f prod.yml config -q || fail "prod.yml is not a valid compose file"
pass "docker-compose -f prod.yml config"
[ "$(id -u)" -ne 0 ] || install_packages yq
scripts/swarm.sh validate || fail "the Swarm form of prod.yml is not valid"
pass "scripts/swarm.sh validate (docker stack config)"
headers=$(curl -sSk -o /dev/null -D - "https://127.0.0.1:$prod_https/")
grep -q '^HTTP/[0-9.]* 200' <<<"$headers" || fail "prod over HTTPS: $headers"
grep -qi '^strict-transport-security:' <<<"$headers" || fail "prod sends no HSTS header"
pass "prod serves HTTPS (self-signed certificate from install_docker.sh) with HSTS"
headers=$(curl -sS -o /dev/null -D - "http://127.0.0.1:$prod_http/notes")
grep -q '^HTTP/[0-9.]* 301' <<<"$headers" && grep -qi '^location: https://' <<<"$headers" \
  || fail "prod over HTTP does not redirect to HTTPS: $headers"
pass "prod redirects HTTP to HTTPS"
internal=$(docker network inspect -f '{{.Internal}}' "${project}prod_backend")
[ "$internal" = true ] || fail "the prod backend network is not internal"
for service in postgres rabbitmq; do
  networks=$(docker inspect -f '{{range $n, $_ := .NetworkSettings.Networks}}{{$n}} {{end}}' \
    "$("${prod_stack[@]}" ps -q "$service")")
  [ "$networks" = "${project}prod_backend " ] || fail "prod $service is on: $networks"
done
pass "prod PostgreSQL and RabbitMQ only on the internal network"
check_hardened "${prod_stack[@]}"
# A redeploy with new code (a stylesheet edit, so a new app image): ./install_docker.sh --env prod again, under a load
# of 200 requests a second over HTTPS through nginx (note writes, reads, lists, a signup a second) that ends with it.
step "prod.yml: zero-downtime redeploy under 200 requests/s"
# Built in the copy, like install_docker.sh's build: cargo fingerprints a workspace by its path, so building in the
# checkout would make the next install in the copy compile the application again.
cargo_cached build --release --locked --quiet -p bench --bin chaos_load || fail "building chaos_load failed"
web_before=$("${prod_stack[@]}" ps -q web | sort)
worker_before=$("${prod_stack[@]}" ps -q worker | sort)
# A rule, not a comment (the compiled CSS drops comments): new CSS, new static files, a new app image.
printf '\n.redeployed-%s { display: block; }\n' "$(date +%s)" >> frontend/scss/site.scss
"$CARGO_TARGET_DIR/release/chaos_load" --base "https://127.0.0.1:$prod_https" --insecure --tag "redeploy$(date +%s)" \
  --rate 200 --seconds 900 --stop-file "$work/redeployed" >"$work/redeploy.json" 2>"$work/redeploy.err" &
redeploy_load=$!
sleep 3
if ! COMPOSE_PROJECT_NAME=${project}prod HTTP_PORT=$prod_http HTTPS_PORT=$prod_https \
  ./install_docker.sh --env prod --timeout 400 >"$work/redeploy.log" 2>&1; then
  touch "$work/redeployed"
  cat "$work/redeploy.log"
  fail "install_docker.sh --env prod (the redeploy) failed"
fi
sleep 2
touch "$work/redeployed"
if ! wait "$redeploy_load"; then
  cat "$work/redeploy.err" "$work/redeploy.json" >&2
  fail "the redeploy failed or lost requests (above)"
fi
grep -E 'rolling|replicas|nginx sends' "$work/redeploy.log" | sed 's/^ */    install_docker: /'
web_after=$("${prod_stack[@]}" ps -q web | sort)
worker_after=$("${prod_stack[@]}" ps -q worker | sort)
[ -z "$(comm -12 <(echo "$web_before") <(echo "$web_after"))" ] || fail "the redeploy kept old web containers"
[ -z "$(comm -12 <(echo "$worker_before") <(echo "$worker_after"))" ] || fail "the redeploy kept old worker containers"
[ "$(wc -l <<<"$web_after")" = "$(wc -l <<<"$web_before")" ] || fail "web replicas: $(wc -l <<<"$web_before") before, $(wc -l <<<"$web_after") after"
python3 - "$work/redeploy.json" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(f"    redeploy under load: {r['requests']} requests in {r['seconds']} s ({r['requests'] // max(r['seconds'], 1)}/s), "
      f"{r['failed']} failed {r['failed_by_status'] or ''}, {r['hung']} hung; {r['accepted']} writes accepted, "
      f"{r['lost']} lost, {r['duplicated']} applied twice; {r['skipped']} not sent (64 in flight)")
PY
pass "every web and worker replica replaced, none of the requests failed"
# The rate limit on signing in: a burst of wrong passwords from one address is cut off by nginx with the API's JSON
# error shape, while reads go on.
limited=0
for _ in $(seq 1 25); do
  code=$(curl -sSk -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"email":"nobody@example.com","password":"wrong password, again"}' "https://127.0.0.1:$prod_https/api/auth/login")
  if [ "$code" = 429 ]; then limited=$((limited + 1)); last_body=$(cat "$work/body"); fi
done
[ "$limited" -gt 0 ] || fail "25 sign-ins at once from one address: none refused by the rate limit"
grep -q '"too_many_requests"' <<<"$last_body" || fail "the rate limit's answer is not the API's JSON: $last_body"
code=$(curl -sSk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$prod_https/login")
[ "$code" = 200 ] || fail "the sign-in page itself (GET) was limited too: $code"
pass "nginx rate-limits sign-in posts: $limited of 25 at once refused (429, JSON); the page still loads"
"${prod_stack[@]}" down -v --remove-orphans >/dev/null 2>&1

# --- 8 -----------------------------------------------------------------------------------------------------------
step "by hand: the env sample with secrets, a .env, docker-compose up -d (fresh copy)"
copy_checkout "$hand"
cd "$hand"
here=$hand
cp -r "$stack/docker/dist/app" "$stack/docker/dist/assets" "$stack/docker/dist/static" docker/dist/
content=$(cat .envs/local.env.sample)
for placeholder in $(grep -oE '__[A-Z_]+_SECRET__' .envs/local.env.sample | sort -u); do
  content=${content//$placeholder/$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
done
printf '%s\n' "$content" > .envs/local.env
hand_port=$((port + 5))
{
  echo "COMPOSE_PROJECT_NAME=${project}hand"
  echo "HTTP_PORT=$hand_port"
  # No rust image can be pulled here: the binary built on the host by the install above, packaged.
  echo "APP_TARGET=app-prebuilt"
  echo "CRON_TARGET=cron-prebuilt"
  echo "FRONTEND_TARGET=frontend-prebuilt"
  # Its own image names, so that images of another stack (or of an older run) are never taken for its own.
  echo "IMAGE_NAMESPACE=${project}hand"
  docker image inspect debian:bookworm-slim >/dev/null 2>&1 || scripts/base-images.sh --print-env
} > .env
# A first run by hand builds its images: remove those an earlier run of this test left behind.
mapfile -t stale < <(docker images -q "${project}hand/*" | sort -u)
[ ${#stale[@]} -eq 0 ] || docker image rm -f "${stale[@]}" >/dev/null
plain up -d >"$work/hand.log" 2>&1 || { tail -n 40 "$work/hand.log"; fail "docker-compose up -d by hand failed"; }
wait_healthy
base=http://127.0.0.1:$hand_port
rm -f "$work/cookies"
expect 200 "$(http GET /)" "by hand: the site answers through nginx"
expect 201 "$(http POST /api/auth/signup -H 'Content-Type: application/json' \
  -d '{"email":"by-hand@example.com","password":"correct horse battery staple"}')" "by hand: migrated (a signup works)"
"${hand_stack[@]}" down -v --remove-orphans >/dev/null 2>&1
cd "$root"
rm -rf "$hand"

printf '\ncompose-test: all passed; up to all-healthy took %ss on the first install.\n' "$healthy_after"
