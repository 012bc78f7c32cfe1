# shellcheck shell=bash
# compose-test.sh, phase 20-nginx: through nginx. Sourced by scripts/compose-test.sh (its helpers and variables).

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
