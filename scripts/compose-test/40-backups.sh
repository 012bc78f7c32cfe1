# shellcheck shell=bash
# compose-test.sh, phase 40-backups: google_storage.sh: back up, list, restore (the stack found through .env). Sourced by scripts/compose-test.sh (its helpers and variables).

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
