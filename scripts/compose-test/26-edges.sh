# shellcheck shell=bash
# compose-test.sh, phase 26-edges: the site as an attacker meets it, through nginx (bench's edge_probe). Last on the
# local stack's pages: its sign-in bursts fill the per-address login limits. Sourced by scripts/compose-test.sh.

step "hostile input in every page's fields and parameters; the baseline headers on every nginx location"
staff_session=$(awk '$6 == "session" {print $7}' "$staff_jar")
[ -n "$staff_session" ] || fail "no staff session from the dashboard phase"
# Signed out, as a user and as staff: every query parameter and form field of every page reached by links gets
# each hostile value (bounded: 12,000 requests, 300 s). No 5xx, every 4xx a page showing the error, no redirect
# off the site.
"$edge_probe" pages --base "$base" --tag "edges$marker" --staff-session "$staff_session" | tee "$work/edges-pages.json" \
  || fail "hostile page input found answers that break the rules (above)"
pass "every page's fields and parameters: $(json '"%s requests, statuses %s" % (d["requests"], d["by_status"])' < "$work/edges-pages.json")"
"$edge_probe" headers --base "$base" --tag "edges$marker" --conf nginx/conf/locations.conf nginx/conf/site-local.conf \
  | tee "$work/edges-headers.json" || fail "an nginx location answers without the baseline security headers (above)"
pass "every nginx location answers with the baseline headers (413, 429 and a request without Host included)"
