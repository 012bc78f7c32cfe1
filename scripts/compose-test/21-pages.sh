# shellcheck shell=bash
# compose-test.sh, phase 21-pages: pages through nginx: HTTP forms from signup to a note, the watcher, the page for a web role that is down. Sourced by scripts/compose-test.sh (its helpers and variables).

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
