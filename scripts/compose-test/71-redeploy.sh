# shellcheck shell=bash
# compose-test.sh, phase 71-redeploy: prod.yml: zero-downtime redeploy under 200 requests/s. Sourced by scripts/compose-test.sh (its helpers and variables).

step "prod.yml: zero-downtime redeploy under 200 requests/s"
web_before=$("${prod_stack[@]}" ps -q web | sort)
worker_before=$("${prod_stack[@]}" ps -q worker | sort)
# A rule, not a comment (the compiled CSS drops comments): new CSS, new static files, a new app image.
printf '\n.redeployed-%s { display: block; }\n' "$(date +%s)" >> frontend/scss/site.scss
"$chaos_load" --base "https://127.0.0.1:$prod_https" --insecure --tag "redeploy$(date +%s)" \
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
