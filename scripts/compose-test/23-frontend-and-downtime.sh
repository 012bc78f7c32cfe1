# shellcheck shell=bash
# compose-test.sh, phase 23-frontend-and-downtime: a .scss edit reaches nginx through the watcher; the page nginx
# shows while the web role is down. Sourced by scripts/compose-test.sh (its helpers and variables).

step "the frontend watcher, and the page for a web role that is down"
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
"$edge_probe" headers --base "$base" --tag "down$marker" --upstream-down >/dev/null \
  || fail "the page nginx shows while web is down lacks the baseline security headers (above)"
pass "it carries the baseline security headers"
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
