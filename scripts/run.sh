#!/usr/bin/env bash
# Runs the application on this machine without containers: starts PostgreSQL (and RabbitMQ), applies migrations,
# creates the admin user, then serves HTTP until Ctrl-C.
set -euo pipefail

usage() {
  cat <<'EOT'
Usage: scripts/run.sh [--help]

  1. scripts/services.sh (PostgreSQL and RabbitMQ on loopback)
  2. creates .envs/host.env from .envs/host.env.sample when it does not exist (never overwrites it)
  3. app migrate, app createsuperuser (when ADMIN_EMAIL and ADMIN_PASSWORD are set in it), app check
  4. app worker in the background, app server on http://127.0.0.1:$PORT (default 8000) until Ctrl-C

Configuration comes from .envs/host.env (every variable is documented in .envs/host.env.sample). The root
.env is Docker Compose's (install_docker.sh writes it); this script does not read it.
EOT
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) echo "run.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
script_name=run
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

scripts/services.sh
if [ ! -f .envs/host.env ]; then
  cp .envs/host.env.sample .envs/host.env
  say "created .envs/host.env from .envs/host.env.sample"
fi
set -a
# shellcheck disable=SC1091
. ./.envs/host.env
set +a

cargo build --locked --quiet --bin app
# The pages' CSS, JavaScript and images, into frontend/dist (STATIC_DIR's default).
cargo run --locked --quiet -p assets -- build >/dev/null
app="${CARGO_TARGET_DIR:-$root/target}/debug/app"
"$app" migrate
if [ -n "${ADMIN_EMAIL:-}" ] && [ -n "${ADMIN_PASSWORD:-}" ]; then
  "$app" createsuperuser
fi
"$app" check
"$app" worker &
worker=$!
trap 'kill -TERM "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT
say "serving on http://${BIND_ADDRESS:-127.0.0.1}:${PORT:-8000}/ (Ctrl-C stops server and worker)"
"$app" server
