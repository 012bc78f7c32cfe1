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
The variables it used are written to .envs/compose.env, so later compose commands can use them:
  docker-compose --env-file .envs/compose.env -f <file> ps
On failure it names the step and prints the last log lines of the service concerned.
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
started=$SECONDS
current_step=""
step() { current_step=$1; printf '==> %s\n' "$1"; }
fail() {
  local message=$1 service=${2:-}
  echo "install_docker: error: step '$current_step' failed: $message" >&2
  if [ -n "$service" ] && [ ${#compose[@]} -gt 0 ]; then
    echo "install_docker: last log lines of $service:" >&2
    "${compose[@]}" logs --no-color --tail 40 "$service" >&2 || true
  fi
  exit 1
}
compose=()

# --- 1 -----------------------------------------------------------------------------------------------------------
step "checking Docker and compose"
docker info >/dev/null 2>&1 || fail "the Docker engine does not answer (is it running? may this user use it?)"
find_compose || fail "neither 'docker compose' (v2) nor 'docker-compose' is installed"
echo "    $("${compose_cmd[@]}" version 2>/dev/null | head -n1)"

# --- 2 -----------------------------------------------------------------------------------------------------------
secret() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32; }

step "env file .envs/$env.env"
envfile=.envs/$env.env
if [ -f "$envfile" ]; then
  echo "    kept the existing $envfile"
else
  [ -f "$envfile.sample" ] || fail "$envfile.sample is missing"
  content=$(cat "$envfile.sample")
  for placeholder in $(grep -oE '__[A-Z_]+_SECRET__' "$envfile.sample" | sort -u); do
    content=${content//$placeholder/$(secret)}
  done
  (umask 077 && printf '%s\n' "$content" > "$envfile")
  echo "    created $envfile with random secrets"
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
    echo "    created a self-signed certificate for $name in nginx/certs/ (replace it with a real one)"
  fi
  # nginx runs as uid 10101 and must read the key through the bind mount.
  if [ "$(id -u)" -eq 0 ]; then
    chown 10101:10101 nginx/certs/privkey.pem && chmod 600 nginx/certs/privkey.pem
  else
    chmod 644 nginx/certs/privkey.pem
    echo "    warning: not root, so nginx/certs/privkey.pem is made world-readable for nginx (uid 10101)"
  fi
fi

if [ "$env" = prod ]; then
  mkdir -p .envs/secrets && chmod 700 .envs/secrets
  # The folder keeps other users of this host out; the files themselves must be readable by the containers'
  # users (compose bind-mounts them as they are; Swarm copies them in with mode 0444).
  write_secret() {
    if [ -f ".envs/secrets/$1" ]; then return; fi
    (umask 022 && printf '%s\n' "$2" > ".envs/secrets/$1")
    echo "    created .envs/secrets/$1"
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
      echo "    $image cannot be pulled: using local base images"
      base=local
      break
    fi
  done
fi
if [ "$base" = local ]; then
  scripts/base-images.sh || fail "scripts/base-images.sh could not build the local base images"
  set -a; . .envs/images.env; set +a
else
  unset DEBIAN_IMAGE RUNTIME_IMAGE POSTGRES_IMAGE RABBITMQ_IMAGE NGINX_BASE_IMAGE PYTHON_IMAGE
fi

# --- 4 -----------------------------------------------------------------------------------------------------------
if [ "$build" = auto ]; then
  if available "${RUST_IMAGE:-rust:1.95-bookworm}"; then build=source; else build=host; fi
fi
step "build (application binary: $build)"
if [ "$build" = host ]; then
  command -v cargo >/dev/null || fail "--build host needs cargo on this machine"
  cargo build --release --locked -p web --bin app || fail "cargo build --release failed"
  cp "${CARGO_TARGET_DIR:-target}/release/app" docker/dist/app
  export APP_TARGET=app-prebuilt CRON_TARGET=cron-prebuilt
else
  export APP_TARGET=app CRON_TARGET=cron
fi
IMAGE_NAMESPACE=${IMAGE_NAMESPACE:-$(basename "$root" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_.\n-' '-')}
export IMAGE_NAMESPACE
{
  echo "# Written by install_docker.sh: the variables of its last run (docker-compose --env-file .envs/compose.env ...)."
  for name in IMAGE_NAMESPACE IMAGE_TAG REGISTRY APP_TARGET CRON_TARGET RUST_IMAGE DEBIAN_IMAGE RUNTIME_IMAGE \
    POSTGRES_IMAGE RABBITMQ_IMAGE NGINX_BASE_IMAGE PYTHON_IMAGE HTTP_PORT HTTPS_PORT SERVER_NAME; do
    [ -n "${!name:-}" ] && echo "$name=${!name}"
  done
} > .envs/compose.env
compose=("${compose_cmd[@]}" -f "$file")
"${compose[@]}" build || fail "building the images failed"

# --- 5, 6 --------------------------------------------------------------------------------------------------------
step "start ($file)"
up_started=$SECONDS
deadline=$((SECONDS + timeout))
if ! "${compose[@]}" up -d; then
  # The loop below names the service that did not come up and shows its log.
  echo "install_docker: docker-compose up failed" >&2
  deadline=0
fi

step "wait until every service is healthy"
while :; do
  pending=()
  for id in $("${compose[@]}" ps -q); do
    read -r service status health code < <(docker inspect -f \
      '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "$id")
    if [ "$status" = exited ] && [ "$health" = none ]; then
      # A one-off (migrate): it must have succeeded.
      [ "$code" = 0 ] || fail "$service exited with status $code" "$service"
    elif [ "$status" != running ]; then
      fail "$service is $status" "$service"
    elif [ "$health" != healthy ] && [ "$health" != none ]; then
      pending+=("$service:$health")
    fi
  done
  [ ${#pending[@]} -eq 0 ] && break
  [ $SECONDS -lt $deadline ] || fail "not healthy after ${timeout}s: ${pending[*]}" "${pending[0]%%:*}"
  sleep 2
done
echo "    every service is healthy ($((SECONDS - up_started))s after up)"

# --- 7, 8 --------------------------------------------------------------------------------------------------------
step "migrate"
"${compose[@]}" exec -T web app migrate || fail "app migrate failed" web

step "default admin user"
if [ -n "$(env_value ADMIN_EMAIL)" ] && [ -n "$(env_value ADMIN_PASSWORD)" ]; then
  "${compose[@]}" exec -T web app createsuperuser || fail "app createsuperuser failed" web
else
  echo "    ADMIN_EMAIL / ADMIN_PASSWORD are not set in $envfile: skipped"
fi

# nginx resolved `web` when it started; a re-created web container may have a new address.
"${compose[@]}" exec -T nginx nginx -e stderr -s reload >/dev/null 2>&1 || true

# --- 9 -----------------------------------------------------------------------------------------------------------
step "done in $((SECONDS - started))s"
case "$env" in
  local)
    echo "    site:         http://127.0.0.1:${HTTP_PORT:-8080}/"
    echo "    mail catcher: http://127.0.0.1:${HTTP_PORT:-8080}/mail/" ;;
  dev)
    echo "    site:         https://${SERVER_NAME:-<this host>}:${HTTPS_PORT:-443}/ (user $(env_value BASIC_AUTH_USER), password in $envfile)" ;;
  prod)
    echo "    site:         https://${SERVER_NAME:-<this host>}:${HTTPS_PORT:-443}/" ;;
esac
[ -n "$(env_value ADMIN_EMAIL)" ] && echo "    admin:        $(env_value ADMIN_EMAIL) (password: ADMIN_PASSWORD in $envfile)"
echo "    compose:      ${compose_cmd[*]} --env-file .envs/compose.env -f $file ps|logs|down"
