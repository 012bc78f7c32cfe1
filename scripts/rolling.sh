# shellcheck shell=bash
# The rolling redeploy of install_docker.sh (sourced by it): a running stack's web and worker replicas replaced by
# ones on the new image without dropping a request or a task. Uses install_docker.sh's `compose`, `note` and `fail`.
#
# For each service whose containers run an older image than the one just built:
#   1. start as many new replicas next to the old ones (docker-compose up --no-recreate --scale), and wait until
#      every new one is healthy;
#   2. web: point nginx at the new replicas only (nginx-upstream, a graceful reload): the old ones get no new
#      request, nginx's old workers finish theirs;
#   3. stop the old replicas with their grace period (SIGTERM: web finishes the requests in flight, a worker the
#      tasks it runs; a task it cannot finish is redelivered, never lost), then remove them;
#   4. web: nginx back on the service name, which now names only the new replicas.

# Pending migrations, applied by the one-off `migrate` service on the new image (with its secrets, as on any start).
migrate_new_image() {
  local id code
  "${compose[@]}" up -d --no-deps migrate >>"$log_file" 2>&1 || fail "starting migrate on the new image failed" migrate
  id=$("${compose[@]}" ps -q migrate)
  code=$(docker wait "$id")
  [ "$code" = 0 ] || fail "app migrate on the new image failed (exit $code)" migrate
  note "migrations applied on the new image"
}

# The containers of service $1, running or not.
service_containers() { "${compose[@]}" ps -q "$1" | sort; }

# Whether every container among "$@" runs the image its name points at now (the build just made).
on_current_image() {
  local id ref
  for id in "$@"; do
    ref=$(docker inspect -f '{{.Config.Image}}' "$id")
    [ "$(docker inspect -f '{{.Image}}' "$id")" = "$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null)" ] || return 1
  done
}

# Waits until every container among "$@" is healthy, until $deadline.
wait_containers_healthy() {
  local id health
  for id in "$@"; do
    while :; do
      health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
      case "$health" in healthy|running) break ;; unhealthy|exited|dead) return 1 ;; esac
      [ $SECONDS -lt "$deadline" ] || return 1
      sleep 1
    done
  done
}

# The address of container $1 on a network it shares with the nginx container $2.
address_for() {
  local network
  for network in $(docker inspect -f '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}' "$2"); do
    docker inspect -f "{{with index .NetworkSettings.Networks \"$network\"}}{{.IPAddress}}{{end}}" "$1" | grep . && return 0
  done
  return 1
}

# roll_service SERVICE GRACE_SECONDS
roll_service() {
  local service=$1 grace=$2 old new count nginx_id id address addresses=()
  mapfile -t old < <(service_containers "$service")
  [ ${#old[@]} -gt 0 ] || return 0
  if on_current_image "${old[@]}"; then
    note "$service: ${#old[@]} replicas already on the new image"
    return 0
  fi
  count=${#old[@]}
  "${compose[@]}" up -d --no-deps --no-recreate --scale "$service=$((count * 2))" "$service" >>"$log_file" 2>&1 \
    || fail "starting new $service replicas failed" "$service"
  mapfile -t new < <(service_containers "$service" | grep -vxF -f <(printf '%s\n' "${old[@]}"))
  [ ${#new[@]} -eq "$count" ] || fail "expected $count new $service replicas, found ${#new[@]}" "$service"
  wait_containers_healthy "${new[@]}" || fail "the new $service replicas did not become healthy" "$service"
  note "$service: $count new replicas healthy next to the $count old ones"
  if [ "$service" = web ]; then
    nginx_id=$(service_containers nginx | head -n1)
    for id in "${new[@]}"; do
      address=$(address_for "$id" "$nginx_id") || fail "no address of $id on nginx's network" web
      addresses+=("$address:8000")
    done
    "${compose[@]}" exec -T nginx nginx-upstream "${addresses[@]}" >>"$log_file" 2>&1 \
      || fail "nginx could not be pointed at the new web replicas" nginx
    # nginx's old workers finish the requests they hold on the old replicas.
    sleep 2
    note "web: nginx sends new requests to the new replicas only"
  fi
  docker stop -t "$grace" "${old[@]}" >>"$log_file" 2>&1 || fail "stopping the old $service replicas failed" "$service"
  docker rm "${old[@]}" >>"$log_file" 2>&1 || fail "removing the old $service replicas failed" "$service"
  if [ "$service" = web ]; then
    "${compose[@]}" exec -T nginx nginx-upstream --service >>"$log_file" 2>&1 \
      || fail "nginx could not be pointed back at the web service" nginx
  fi
  note "$service: the $count old replicas drained (SIGTERM, up to ${grace}s) and removed"
}
