#!/usr/bin/env bash
# Installs and starts the whole stack with Docker: env files with random secrets, images, the stack, migrations,
# the default admin user. Safe to run again: nothing that exists is overwritten, and an up-to-date stack is kept.
set -euo pipefail

usage() {
  cat <<'EOT'
Usage: ./install_docker.sh [--env local|dev|prod] [--base auto|official|local] [--build auto|source|host]
                           [--timeout SECONDS] [--help]

  --env      which stack (default local):
               local  docker-compose.yml  http://127.0.0.1:8080, mail catcher at /mail/, source mounted
               dev    dev.yml             quality/staging: built images, HTTPS, basic-auth wall on every page
               prod   prod.yml            TLS, restart policies, resource limits, secrets as files
  --base     base images: official (pulled from Docker Hub / gcr.io), local (built here from a Debian mirror by
             scripts/base-images.sh), auto (default: official when they can be pulled, else local)
  --build    the application binary: source (compiled inside Docker with the official rust image), host (compiled
             here with cargo, then packaged), auto (default: source when the rust image is available, else host)
  --timeout  how long to wait for every service to become healthy (default 300)

Steps: 1. Docker and compose answer  2. .envs/<env>.env from its sample with random secrets (dev and prod: a
self-signed certificate in nginx/certs/ when none is there; prod: .envs/secrets/*); existing files are kept
3. base images  4. build  5. up -d  6. wait until every service is healthy  7. app migrate
8. app createsuperuser from ADMIN_EMAIL / ADMIN_PASSWORD  9. print the URLs.
Run again on a running prod stack with new code, step 5 is a rolling redeploy: migrations on the new image, then
new web and worker replicas start next to the old ones, nginx sends requests only to the new ones once healthy,
and the old ones drain (SIGTERM, grace period) before they are removed: no request or task is dropped
(scripts/rolling.sh, docs/reliability.md).
It prints one line per step with the time since it started, and a progress line every 20 s while it compiles or
builds images; the full output goes to install_docker.log (its last lines are shown on failure, with the step's
name and the log of the service concerned).

Its choices (project name, compose file, image names, build targets, base images, ports) go to the root .env,
which Compose reads by itself: afterwards the plain commands act on this stack with the same images:
  docker-compose up -d | ps | logs -f web | restart worker | stop | down
Values already in .env are kept (an environment variable beats .env, which beats the default); see .env.sample.
One environment per checkout: installing another rewrites COMPOSE_FILE.
EOT
}

env=local base=auto build=auto timeout=300
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --env|--base|--build|--timeout)
      [ $# -ge 2 ] || { echo "install_docker: $1 needs a value (see --help)" >&2; exit 2; }
      case "$1" in --env) env=$2 ;; --base) base=$2 ;; --build) build=$2 ;; --timeout) timeout=$2 ;; esac
      shift ;;
    *) echo "install_docker: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$env" in local) file=docker-compose.yml ;; dev) file=dev.yml ;; prod) file=prod.yml ;;
  *) echo "install_docker: --env must be local, dev or prod" >&2; exit 2 ;; esac
case "$base" in auto|official|local) ;; *) echo "install_docker: --base must be auto, official or local" >&2; exit 2 ;; esac
case "$build" in auto|source|host) ;; *) echo "install_docker: --build must be auto, source or host" >&2; exit 2 ;; esac
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || { echo "install_docker: --timeout must be a number of seconds" >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"
script_name=install_docker
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

log_file=$root/install_docker.log
: > "$log_file"
started=$SECONDS
current_step=""
step_number=0
compose=()

# m:ss since the start.
clock() { local s=$((SECONDS - started)); printf '%d:%02d' $((s / 60)) $((s % 60)); }
step() {
  step_number=$((step_number + 1))
  current_step=$1
  printf '==> [%s] %d/9 %s\n' "$(clock)" "$step_number" "$1"
  printf '\n### %d/9 %s\n' "$step_number" "$1" >> "$log_file"
}
# A line for the user under the current step (also in the log).
note() { echo "    $*"; echo "    $*" >> "$log_file"; }
fail() {
  local message=$1 service=${2:-}
  {
    echo "install_docker: error: step '$current_step' failed: $message"
    if [ -n "$service" ] && [ ${#compose[@]} -gt 0 ]; then
      echo "install_docker: last log lines of $service:"
      "${compose[@]}" logs --no-color --tail 40 "$service" 2>&1 | tee -a "$log_file" || true
    fi
    echo "install_docker: last lines of $log_file:"
    tail -n 25 "$log_file" | sed 's/^/    /'
    echo "install_docker: the full output is in $log_file"
  } >&2
  exit 1
}

# What a long command has done so far, from its part of the log: crates compiled, image build steps.
progress() {
  local from=$1 part crates build
  part=$(tail -n +"$((from + 1))" "$log_file")
  crates=$(grep -c '^ *Compiling ' <<<"$part" || true)
  build=$(grep -oE '^Step [0-9]+/[0-9]+|^Building [a-z-]+' <<<"$part" | tail -n 1 || true)
  [ "$crates" -gt 0 ] && printf ', %s crates compiled' "$crates"
  [ -n "$build" ] && printf ', %s' "$build"
  return 0
}

# Runs "$@" with its output in the log only; every 20 s a progress line says it is still going.
quietly() {
  local what=$1 from pid last
  shift
  from=$(wc -l < "$log_file")
  "$@" >>"$log_file" 2>&1 &
  pid=$!
  last=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ $((SECONDS - last)) -ge 20 ]; then
      last=$SECONDS
      echo "    ... $what ($(clock)$(progress "$from"))"
    fi
  done
  wait "$pid"
}

# The variables Compose substitutes in the compose files. An existing .env's values count unless the environment
# sets them (Compose itself gives the environment precedence over .env the same way).
compose_vars=(COMPOSE_PROJECT_NAME IMAGE_NAMESPACE IMAGE_TAG REGISTRY APP_TARGET CRON_TARGET FRONTEND_TARGET RUST_IMAGE DEBIAN_IMAGE
  RUNTIME_IMAGE POSTGRES_IMAGE RABBITMQ_IMAGE NGINX_BASE_IMAGE PYTHON_IMAGE HTTP_PORT HTTPS_PORT SERVER_NAME NGINX_TLS)
base_image_vars=(DEBIAN_IMAGE RUNTIME_IMAGE POSTGRES_IMAGE RABBITMQ_IMAGE NGINX_BASE_IMAGE PYTHON_IMAGE)
is_compose_var() { local known; for known in "${compose_vars[@]}" COMPOSE_FILE; do [ "$1" = "$known" ] && return 0; done; return 1; }
if [ -f .env ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    name=${line%%=*}
    [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    if [ "$name" != COMPOSE_FILE ] && is_compose_var "$name" && [ -z "${!name+x}" ]; then export "$name=${line#*=}"; fi
  done < .env
fi
default_name=$(basename "$root" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9_-')
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-${default_name:-app}}
export IMAGE_NAMESPACE=${IMAGE_NAMESPACE:-${default_name:-app}}

# Writes the root .env: the managed variables as resolved now, and every other line of an existing .env as it was.
write_compose_env() {
  {
    echo "# Written by install_docker.sh --env $env: what plain docker-compose commands need to find this stack and"
    echo "# its images. Edit freely: the next run keeps these values. Every variable is explained in .env.sample."
    echo "COMPOSE_PROJECT_NAME=$COMPOSE_PROJECT_NAME"
    echo "COMPOSE_FILE=$file"
    for name in "${compose_vars[@]}"; do
      [ "$name" = COMPOSE_PROJECT_NAME ] || [ -z "${!name:-}" ] || echo "$name=${!name}"
    done
    if [ -f .env ]; then
      while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in ''|'#'*) continue ;; esac
        is_compose_var "${line%%=*}" || echo "$line"
      done < .env
    fi
  } > .env.new
  mv .env.new .env
}

# --- 1 -----------------------------------------------------------------------------------------------------------
step "checking Docker and compose"
docker info >/dev/null 2>&1 || fail "the Docker engine does not answer (is it running? may this user use it?)"
find_compose || fail "neither 'docker compose' (v2) nor 'docker-compose' is installed"
note "$("${compose_cmd[@]}" version 2>/dev/null | head -n1), project $COMPOSE_PROJECT_NAME, $file; full output in $log_file"

# --- 2 -----------------------------------------------------------------------------------------------------------
secret() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32; }

step "env file .envs/$env.env"
envfile=.envs/$env.env
if [ -f "$envfile" ]; then
  note "kept the existing $envfile"
else
  [ -f "$envfile.sample" ] || fail "$envfile.sample is missing"
  content=$(cat "$envfile.sample")
  for placeholder in $(grep -oE '__[A-Z_]+_SECRET__' "$envfile.sample" | sort -u); do
    content=${content//$placeholder/$(secret)}
  done
  (umask 077 && printf '%s\n' "$content" > "$envfile")
  note "created $envfile with random secrets"
fi
env_value() { sed -n "s/^$1=//p" "$envfile" | tail -n1; }

if [ "$env" != local ]; then
  if [ ! -f nginx/certs/fullchain.pem ] || [ ! -f nginx/certs/privkey.pem ]; then
    command -v openssl >/dev/null || fail "no certificate in nginx/certs/ and no openssl to make a self-signed one"
    mkdir -p nginx/certs
    name=${SERVER_NAME:-localhost}; name=${name%% *}; [ "$name" = _ ] && name=localhost
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$name" -addext "subjectAltName=DNS:$name" \
      -keyout nginx/certs/privkey.pem -out nginx/certs/fullchain.pem >/dev/null 2>&1 \
      || fail "openssl could not make a self-signed certificate"
    note "created a self-signed certificate for $name in nginx/certs/ (replace it with a real one)"
  fi
  # nginx runs as uid 10101 and must read the key through the bind mount.
  if [ "$(id -u)" -eq 0 ]; then
    chown 10101:10101 nginx/certs/privkey.pem && chmod 600 nginx/certs/privkey.pem
  else
    chmod 644 nginx/certs/privkey.pem
    note "warning: not root, so nginx/certs/privkey.pem is made world-readable for nginx (uid 10101)"
  fi
fi

if [ "$env" = prod ]; then
  mkdir -p .envs/secrets && chmod 700 .envs/secrets
  # The folder keeps other users of this host out; the files themselves must be readable by the containers'
  # users (compose bind-mounts them as they are; Swarm copies them in with mode 0444).
  write_secret() {
    if [ -f ".envs/secrets/$1" ]; then return; fi
    (umask 022 && printf '%s\n' "$2" > ".envs/secrets/$1")
    note "created .envs/secrets/$1"
  }
  write_secret postgres_password "$(secret)"
  write_secret database_url "postgres://$(env_value POSTGRES_USER):$(head -n1 .envs/secrets/postgres_password)@postgres:5432/$(env_value POSTGRES_DB)"
  write_secret amqp_url "amqp://$(env_value RABBITMQ_DEFAULT_USER):$(env_value RABBITMQ_DEFAULT_PASS)@rabbitmq:5672/%2f"
  write_secret smtp_url "smtp://user:password@smtp.example.com:587?tls=required"
fi

# --- 3 -----------------------------------------------------------------------------------------------------------
step "base images ($base)"
official_images=(debian:bookworm-slim gcr.io/distroless/cc-debian12:nonroot postgres:15-bookworm \
  rabbitmq:3-management nginx:1-bookworm)
[ "$env" = local ] && official_images+=(python:3.11-slim-bookworm)
available() { docker image inspect "$1" >/dev/null 2>&1 || timeout 120 docker pull -q "$1" >/dev/null 2>&1; }
if [ "$base" = auto ]; then
  base=official
  for image in "${official_images[@]}"; do
    if ! available "$image"; then
      note "$image cannot be pulled: using local base images"
      base=local
      break
    fi
  done
fi
if [ "$base" = local ]; then
  quietly "building local base images" scripts/base-images.sh \
    || fail "scripts/base-images.sh could not build the local base images"
  while IFS= read -r line; do export "${line?}"; done < <(scripts/base-images.sh --print-env)
else
  # Official images: drop only the local stand-ins an earlier run chose; base images set by hand stay.
  for name in "${base_image_vars[@]}"; do
    case "${!name:-}" in local-base/*) unset "$name" ;; esac
  done
fi

# --- 4 -----------------------------------------------------------------------------------------------------------
if [ "$build" = auto ]; then
  if available "${RUST_IMAGE:-rust:1.95-bookworm}"; then build=source; else build=host; fi
fi
step "build (application binary: $build)"
if [ "$build" = host ]; then
  command -v cargo >/dev/null || fail "--build host needs cargo on this machine"
  quietly "compiling the application and the asset builder (cargo build --release)" \
    cargo_cached build --release --locked -p web --bin app -p assets --bin assets || fail "cargo build --release failed"
  cp "${CARGO_TARGET_DIR:-target}/release/app" "${CARGO_TARGET_DIR:-target}/release/assets" docker/dist/
  rm -rf docker/dist/static
  quietly "building the assets (frontend/ into docker/dist/static)" \
    docker/dist/assets build --src frontend --out docker/dist/static || fail "the asset build failed"
  export APP_TARGET=app-prebuilt CRON_TARGET=cron-prebuilt FRONTEND_TARGET=frontend-prebuilt
else
  export APP_TARGET=app CRON_TARGET=cron FRONTEND_TARGET=frontend
fi
write_compose_env
note "wrote .env (project $COMPOSE_PROJECT_NAME, $file, images $IMAGE_NAMESPACE/*:${IMAGE_TAG:-local}, targets $APP_TARGET/$CRON_TARGET/$FRONTEND_TARGET)"
compose=("${compose_cmd[@]}" -f "$file")
quietly "building the images" "${compose[@]}" build || fail "building the images failed"

# --- 5, 6 --------------------------------------------------------------------------------------------------------
step "start ($file)"
up_started=$SECONDS
deadline=$((SECONDS + timeout))
# prod, already running: a rolling redeploy (scripts/rolling.sh). Migrations first, on the new image, while the old
# replicas serve (write migrations the old code can run on); then web and worker replaced without downtime.
if [ "$env" = prod ] && [ -n "$("${compose[@]}" ps -q web 2>/dev/null)" ]; then
  # shellcheck source=scripts/rolling.sh
  . "$root/scripts/rolling.sh"
  note "the stack is running: rolling redeploy of web and worker"
  migrate_new_image
  roll_service web 35
  roll_service worker 40
fi
if ! quietly "starting the containers" "${compose[@]}" up -d; then
  # The loop below names the service that did not come up and shows its log.
  note "docker-compose up failed; looking for the service that did not come up"
  deadline=0
fi

step "wait until every service is healthy"
last_report=$SECONDS
while :; do
  pending=()
  while read -r service status health code; do
    if [ "$status" = exited ] && [ "$health" = none ]; then
      # A one-off (migrate): it must have succeeded.
      [ "$code" = 0 ] || fail "$service exited with status $code" "$service"
    elif [ "$status" != running ]; then
      fail "$service is $status" "$service"
    elif [ "$health" != healthy ] && [ "$health" != none ]; then
      pending+=("$service:$health")
    fi
  done < <(container_states "${compose[@]}")
  [ ${#pending[@]} -eq 0 ] && break
  [ $SECONDS -lt $deadline ] || fail "not healthy after ${timeout}s: ${pending[*]}" "${pending[0]%%:*}"
  if [ $((SECONDS - last_report)) -ge 20 ]; then
    last_report=$SECONDS
    echo "    ... waiting ($(clock)): ${pending[*]}"
  fi
  sleep 2
done
note "every service is healthy ($((SECONDS - up_started))s after up)"

# --- 7, 8 --------------------------------------------------------------------------------------------------------
step "migrate"
# After a rolling redeploy the web replicas are numbered on (web_3, web_4): exec into the first one there is.
web_index=$("${compose[@]}" ps -q web | xargs -r docker inspect -f '{{index .Config.Labels "com.docker.compose.container-number"}}' | sort -n | head -n1)
web_exec() { "${compose[@]}" exec -T --index "${web_index:-1}" web "$@"; }
quietly "migrating" web_exec app migrate || fail "app migrate failed" web

step "default admin user"
if [ -n "$(env_value ADMIN_EMAIL)" ] && [ -n "$(env_value ADMIN_PASSWORD)" ]; then
  admin=$(web_exec app createsuperuser 2>&1) || { echo "$admin" >> "$log_file"; fail "app createsuperuser failed" web; }
  echo "$admin" >> "$log_file"
  note "$(tail -n 1 <<<"$admin")"
else
  note "ADMIN_EMAIL / ADMIN_PASSWORD are not set in $envfile: skipped"
fi

# nginx resolved `web` when it started; a re-created web container may have a new address.
"${compose[@]}" exec -T nginx nginx -e stderr -s reload >>"$log_file" 2>&1 || true

# --- 9 -----------------------------------------------------------------------------------------------------------
step "done in $((SECONDS - started))s"
case "$env" in
  local)
    note "site:         http://127.0.0.1:${HTTP_PORT:-8080}/"
    note "dashboard:    http://127.0.0.1:${HTTP_PORT:-8080}/monitor/ (staff: sign in on the site)"
    note "mail catcher: http://127.0.0.1:${HTTP_PORT:-8080}/mail/" ;;
  dev)
    note "site:         https://${SERVER_NAME:-<this host>}:${HTTPS_PORT:-443}/ (user $(env_value BASIC_AUTH_USER), password in $envfile)"
    note "dashboard:    https://${SERVER_NAME:-<this host>}:${HTTPS_PORT:-443}/monitor/ (staff)" ;;
  prod)
    note "site:         https://${SERVER_NAME:-<this host>}:${HTTPS_PORT:-443}/"
    note "dashboard:    https://${SERVER_NAME:-<this host>}:${HTTPS_PORT:-443}/monitor/ (staff)" ;;
esac
if [ -n "$(env_value ADMIN_EMAIL)" ]; then
  note "admin:        $(env_value ADMIN_EMAIL) (password: ADMIN_PASSWORD in $envfile)"
fi
note "compose:      ${compose_cmd[*]} ps | logs -f web | restart worker | down   (settings in .env)"
note "full log:     $log_file"
