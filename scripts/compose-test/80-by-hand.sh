# shellcheck shell=bash
# compose-test.sh, phase 80-by-hand: by hand: the env sample with secrets, a .env, docker-compose up -d (fresh copy). Sourced by scripts/compose-test.sh (its helpers and variables).

step "by hand: the env sample with secrets, a .env, docker-compose up -d (fresh copy)"
copy_checkout "$hand"
cd "$hand"
here=$hand
cp -r "$stack/docker/dist/app" "$stack/docker/dist/assets" "$stack/docker/dist/static" docker/dist/
content=$(cat .envs/local.env.sample)
for placeholder in $(grep -oE '__[A-Z_]+_SECRET__' .envs/local.env.sample | sort -u); do
  content=${content//$placeholder/$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
done
printf '%s\n' "$content" > .envs/local.env
hand_port=$((port + 5))
{
  echo "COMPOSE_PROJECT_NAME=${project}hand"
  echo "HTTP_PORT=$hand_port"
  # No rust image can be pulled here: the binary built on the host by the install above, packaged.
  echo "APP_TARGET=app-prebuilt"
  echo "CRON_TARGET=cron-prebuilt"
  echo "FRONTEND_TARGET=frontend-prebuilt"
  # Its own image names, so that images of another stack (or of an older run) are never taken for its own.
  echo "IMAGE_NAMESPACE=${project}hand"
  docker image inspect debian:bookworm-slim >/dev/null 2>&1 || scripts/base-images.sh --print-env
} > .env
# A first run by hand builds its images: remove those an earlier run of this test left behind.
mapfile -t stale < <(docker images -q "${project}hand/*" | sort -u)
[ ${#stale[@]} -eq 0 ] || docker image rm -f "${stale[@]}" >/dev/null
plain up -d >"$work/hand.log" 2>&1 || { tail -n 40 "$work/hand.log"; fail "docker-compose up -d by hand failed"; }
wait_healthy
base=http://127.0.0.1:$hand_port
rm -f "$work/cookies"
expect 200 "$(http GET /)" "by hand: the site answers through nginx"
expect 201 "$(http POST /api/auth/signup -H 'Content-Type: application/json' \
  -d '{"email":"by-hand@example.com","password":"correct horse battery staple"}')" "by hand: migrated (a signup works)"
"${hand_stack[@]}" down -v --remove-orphans >/dev/null 2>&1
cd "$root"
rm -rf "$hand"

printf '\ncompose-test: all passed; up to all-healthy took %ss on the first install.\n' "$healthy_after"
