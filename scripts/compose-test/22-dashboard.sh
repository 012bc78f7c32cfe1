# shellcheck shell=bash
# compose-test.sh, phase 22-dashboard: the monitoring dashboard through nginx: staff only. Sourced by scripts/compose-test.sh (its helpers and variables).

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
