# shellcheck shell=bash
# compose-test.sh, phase 70-prod: prod.yml: config, its Swarm form, and the stack over TLS. Sourced by scripts/compose-test.sh (its helpers and variables).

step "prod.yml: config, its Swarm form, and the stack over TLS"
prod_http=$((port + 3)) prod_https=$((port + 4))
COMPOSE_PROJECT_NAME=${project}prod HTTP_PORT=$prod_http HTTPS_PORT=$prod_https \
  ./install_docker.sh --env prod --timeout 400 >"$work/prod.log" 2>&1 \
  || { cat "$work/prod.log"; fail "install_docker.sh --env prod failed"; }
"${compose_cmd[@]}" -f prod.yml config -q || fail "prod.yml is not a valid compose file"
pass "docker-compose -f prod.yml config"
[ "$(id -u)" -ne 0 ] || install_packages yq
scripts/swarm.sh validate || fail "the Swarm form of prod.yml is not valid"
pass "scripts/swarm.sh validate (docker stack config)"
headers=$(curl -sSk -o /dev/null -D - "https://127.0.0.1:$prod_https/")
grep -q '^HTTP/[0-9.]* 200' <<<"$headers" || fail "prod over HTTPS: $headers"
grep -qi '^strict-transport-security:' <<<"$headers" || fail "prod sends no HSTS header"
pass "prod serves HTTPS (self-signed certificate from install_docker.sh) with HSTS"
headers=$(curl -sS -o /dev/null -D - "http://127.0.0.1:$prod_http/notes")
grep -q '^HTTP/[0-9.]* 301' <<<"$headers" && grep -qi '^location: https://' <<<"$headers" \
  || fail "prod over HTTP does not redirect to HTTPS: $headers"
pass "prod redirects HTTP to HTTPS"
internal=$(docker network inspect -f '{{.Internal}}' "${project}prod_backend")
[ "$internal" = true ] || fail "the prod backend network is not internal"
for service in postgres rabbitmq; do
  networks=$(docker inspect -f '{{range $n, $_ := .NetworkSettings.Networks}}{{$n}} {{end}}' \
    "$("${prod_stack[@]}" ps -q "$service")")
  [ "$networks" = "${project}prod_backend " ] || fail "prod $service is on: $networks"
done
pass "prod PostgreSQL and RabbitMQ only on the internal network"
check_hardened "${prod_stack[@]}"
# A redeploy with new code (a stylesheet edit, so a new app image): ./install_docker.sh --env prod again, under a load
# of 200 requests a second over HTTPS through nginx (note writes, reads, lists, a signup a second) that ends with it.
