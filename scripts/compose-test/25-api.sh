# shellcheck shell=bash
# compose-test.sh, phase 25-api: the API as a contract: its OpenAPI document, the page, and schemathesis through nginx. Sourced by scripts/compose-test.sh (its helpers and variables).

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
