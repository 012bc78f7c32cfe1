# shellcheck shell=bash
# compose-test.sh, phase 50-reinstall: install_docker.sh again. Sourced by scripts/compose-test.sh (its helpers and variables).

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
local_data_kept() {
  expect 200 "$(http GET "/api/notes/$kept")" "the kept note, read with the old session"
}
plain_commands local_data_kept
