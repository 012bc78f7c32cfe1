#!/usr/bin/env bash
# Installs (when missing) and starts the services the application and its tests talk to, on loopback:
# PostgreSQL and RabbitMQ from Debian's packages. Idempotent: services already running are left alone.
set -euo pipefail

usage() {
  cat <<'EOT'
Usage: scripts/services.sh [--help]

Installs when missing, then starts on 127.0.0.1:
  PostgreSQL 15  port 5432   role app / password app (may create databases), database app
  RabbitMQ       port 5672   user guest / guest (loopback only); management API on port 15672
  S3 storage     port 9000   moto_server (PyPI moto[server], in a venv under /opt/app-moto), in memory;
                             any access key works
  GCS storage    port 9023   gcp-storage-emulator (PyPI, in a venv under /opt/app-gcs), in memory; the JSON API,
                             unauthenticated (GCS_BASE_URL=http://127.0.0.1:9023, GCS_SKIP_SIGNATURE=true)
  SMTP sink      port 1025   aiosmtpd, keeps every message in a Maildir ($SMTP_SINK_MAILDIR/new,
                             default /var/tmp/app-mail/new); nothing is delivered anywhere
  Browser        (no port)   Debian's chromium and chromium-driver, for the page tests (WebDriver)

Needs root (apt-get, starting the servers). Safe to run again: running services are kept.
Prints where each service listens. Stop them with:
  pg_ctlcluster 15 main stop
  rabbitmqctl stop
  kill "$(cat /run/app-smtp-sink.pid)" "$(cat /run/app-moto.pid)" "$(cat /run/app-gcs.pid)"
EOT
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) echo "services.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
script_name=services
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

release_build_cache_fd
[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts servers)"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 name=$2 seconds=${3:-60}
  for _ in $(seq "$seconds"); do
    port_open "$port" && return 0
    sleep 1
  done
  die "$name did not open port $port within ${seconds}s"
}

start_postgres() {
  install_packages postgresql postgresql-contrib
  local version
  version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf "%f\n" | sort -n | tail -1)
  if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main"' | grep . >/dev/null; then
    say "creating PostgreSQL $version cluster main"
    pg_createcluster "$version" main >/dev/null
  fi
  if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
    say "starting PostgreSQL $version"
    pg_ctlcluster "$version" main start
  fi
  wait_port 5432 PostgreSQL
  # Role and database for the application and the tests (the tests create one database per test).
  runuser -u postgres -- psql -qAt -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
SELECT 'CREATE ROLE app LOGIN CREATEDB PASSWORD ''app'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app')\gexec
SELECT 'CREATE DATABASE app OWNER app'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'app')\gexec
SQL
  say "PostgreSQL $version listening on 127.0.0.1:5432 (postgres://app:app@127.0.0.1:5432/app)"
}

start_rabbitmq() {
  install_packages rabbitmq-server
  if ! rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
    say "starting RabbitMQ"
    # The management API gives queue figures to the tests and the dashboard; it works offline.
    rabbitmq-plugins enable --offline rabbitmq_management >/dev/null
    # AMQP, management, the Erlang port mapper and the inter-node port all on loopback only.
    ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1} -rabbitmq_management tcp_config [{ip,"127.0.0.1"},{port,15672}]' \
      rabbitmq-server -detached >/dev/null 2>&1 || true
    for _ in $(seq 90); do
      rabbitmq-diagnostics -q ping >/dev/null 2>&1 && break
      sleep 1
    done
    rabbitmq-diagnostics -q ping >/dev/null 2>&1 || die "RabbitMQ did not start (see /var/log/rabbitmq/)"
  fi
  wait_port 5672 RabbitMQ 30
  if ! port_open 15672; then
    # Started earlier without the plugin: enable it on the running node.
    rabbitmq-plugins enable rabbitmq_management >/dev/null
    wait_port 15672 "RabbitMQ management" 30
  fi
  say "RabbitMQ listening on 127.0.0.1:5672 (amqp://guest:guest@127.0.0.1:5672/%2f), management on 127.0.0.1:15672"
}

start_smtp_sink() {
  install_packages python3-aiosmtpd
  local maildir=${SMTP_SINK_MAILDIR:-/var/tmp/app-mail}
  mkdir -p "$maildir/tmp" "$maildir/new" "$maildir/cur"
  if ! port_open 1025; then
    say "starting the SMTP sink"
    nohup /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:1025 -c aiosmtpd.handlers.Mailbox "$maildir" \
      >/var/log/app-smtp-sink.log 2>&1 &
    echo $! >/run/app-smtp-sink.pid
    wait_port 1025 "SMTP sink" 30
  fi
  say "SMTP sink listening on 127.0.0.1:1025 (smtp://127.0.0.1:1025), messages in $maildir/new"
}

start_s3() {
  local venv=/opt/app-moto
  python_venv "$venv" 'moto[server]==5.2.1'
  if ! port_open 9000; then
    say "starting the S3 server"
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p 9000 >/var/log/app-moto.log 2>&1 &
    echo $! >/run/app-moto.pid
    wait_port 9000 "S3 server (moto)" 60
  fi
  say "S3 server listening on 127.0.0.1:9000 (S3_ENDPOINT=http://127.0.0.1:9000, any access key)"
}

start_gcs() {
  python_venv /opt/app-gcs 'gcp-storage-emulator==2026.7.19'
  if ! port_open 9023; then
    say "starting the GCS server"
    nohup /opt/app-gcs/bin/python "$root/scripts/gcs-server.py" start -H 127.0.0.1 --port 9023 --in-memory -q \
      >/var/log/app-gcs.log 2>&1 &
    echo $! >/run/app-gcs.pid
    wait_port 9023 "GCS server (gcp-storage-emulator)" 60
  fi
  say "GCS server listening on 127.0.0.1:9023 (GCS_BASE_URL=http://127.0.0.1:9023, GCS_SKIP_SIGNATURE=true)"
}

# Not a server: the browser the page tests drive (chromedriver starts one per test).
install_browser() {
  command -v chromedriver >/dev/null 2>&1 || install_packages chromium chromium-driver
  say "browser for the page tests: $(chromium --version 2>/dev/null || echo chromium), chromedriver on demand"
}

start_postgres
start_rabbitmq
start_smtp_sink
start_s3
start_gcs
install_browser
