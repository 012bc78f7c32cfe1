# shellcheck shell=bash
# compose-test.sh, phase 60-dev: dev.yml: the basic-auth wall. Sourced by scripts/compose-test.sh (its helpers and variables).

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
dev_data_kept() {
  local code
  code=$(curl -sSk -o /dev/null -w '%{http_code}' -u "$dev_user:$dev_password" -H 'Content-Type: application/json' \
    -d '{"email":"tester@example.com","password":"correct horse battery staple"}' "$dev/api/auth/login")
  [ "$code" = 200 ] || fail "the dev tester cannot log in any more (HTTP $code): the account is gone"
}
plain_commands dev_data_kept -f dev.yml
"${dev_stack[@]}" down -v --remove-orphans >/dev/null 2>&1
