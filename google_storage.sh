#!/usr/bin/env bash
# Backups of the running stack's database, from the host (-a credentials, -l list, -r restore, -b back up now).
# Every action runs the `app backup` command inside the stack's cron container, so the host needs nothing but
# Docker Compose.
set -euo pipefail

usage() {
  cat <<'EOT'
Usage: ./google_storage.sh [-f COMPOSE_FILE] ACTION

Actions:
  -a FILE   store backup-storage credentials in the cron container's credentials volume (/run/credentials),
            where the nightly jobs read them, then prove they work with a list call. FILE is a Google Cloud
            service-account JSON key, or an env file with S3_ACCESS_KEY_ID=... and S3_SECRET_ACCESS_KEY=... lines;
            a copy stays in cron/credentials/ (mode 600, never committed) for the next stack.
  -l        list the backups, newest first, with size, age and verification state
  -r URL    restore backup URL (from -l) into the stack's database, with its uploaded files when they are kept
            in the media volume; asks for confirmation unless -y is given
  -b        back up the stack's database now
  -h, --help  this help

Options:
  -f FILE   compose file of the stack (default docker-compose.yml; dev.yml or prod.yml for those environments)
  -y        restore without asking

Storage is chosen by BACKUP_STORAGE, BACKUP_BUCKET and friends in the stack's env file (see .envs/host.env.sample).
EOT
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
script_name=google_storage
# shellcheck source=scripts/lib.sh
. "$here/scripts/lib.sh"
compose_file=docker-compose.yml
action=""
argument=""
yes=0
[ $# -gt 0 ] || { usage >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -f) [ $# -ge 2 ] || die "-f needs a compose file"; compose_file=$2; shift 2 ;;
    -y) yes=1; shift ;;
    -a|-r) [ -z "$action" ] || die "give one action"; [ $# -ge 2 ] || die "$1 needs an argument"; action=$1; argument=$2; shift 2 ;;
    -l|-b) [ -z "$action" ] || die "give one action"; action=$1; shift ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[ -n "$action" ] || die "no action given (see --help)"
[ -f "$compose_file" ] || die "compose file $compose_file not found"

require_compose
compose=("${compose_cmd[@]}" -f "$compose_file")

require_stack() {
  local id
  id=$("${compose[@]}" ps -q cron 2>/dev/null || true)
  if [ -z "$id" ] || [ "$(docker inspect -f '{{.State.Running}}' "$id" 2>/dev/null)" != "true" ]; then
    die "the stack is not running (no cron container for $compose_file): start it with ./install_docker.sh or docker-compose -f $compose_file up -d"
  fi
}

in_cron() {
  "${compose[@]}" exec -T cron app "$@"
}

# Writes stdin to /run/credentials/NAME in the cron container (its credentials volume), readable only by the
# container's user: the nightly jobs and every action read the keys from there.
to_cron() {
  "${compose[@]}" exec -T cron sh -c \
    'umask 077 && cat > "/run/credentials/.$1.tmp" && mv "/run/credentials/.$1.tmp" "/run/credentials/$1"' sh "$1" \
    || die "could not store $1 in the cron container"
}

case "$action" in
  -a)
    [ -f "$argument" ] || die "credentials file $argument not found"
    mkdir -p cron/credentials
    if grep -q '"private_key"' "$argument" && grep -q '"client_email"' "$argument"; then
      install -m 600 "$argument" cron/credentials/gcs.json
      echo "google_storage: kept a copy of the service-account key as cron/credentials/gcs.json"
      require_stack
      to_cron gcs.json < cron/credentials/gcs.json
    elif grep -q '^S3_ACCESS_KEY_ID=' "$argument" && grep -q '^S3_SECRET_ACCESS_KEY=' "$argument"; then
      install -m 600 "$argument" cron/credentials/s3.env
      echo "google_storage: kept a copy of the S3 keys as cron/credentials/s3.env"
      require_stack
      sed -n 's/^S3_ACCESS_KEY_ID=//p' cron/credentials/s3.env | tail -n1 | tr -d '\r\n' | to_cron s3_access_key_id
      sed -n 's/^S3_SECRET_ACCESS_KEY=//p' cron/credentials/s3.env | tail -n1 | tr -d '\r\n' | to_cron s3_secret_access_key
    else
      die "$argument is neither a service-account JSON key (private_key, client_email) nor an env file with S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY"
    fi
    echo "google_storage: stored in the cron container (/run/credentials, a volume that outlives the container)"
    in_cron backup list >/dev/null || die "the credentials were stored but listing the backups failed (see the message above)"
    echo "google_storage: the credentials work (the backup storage answered a list call)"
    ;;
  -l) require_stack; in_cron backup list ;;
  -b) require_stack; in_cron backup create ;;
  -r)
    require_stack
    if [ $yes -eq 0 ]; then
      [ -t 0 ] || die "restoring replaces the stack's data; confirm with -y when there is no terminal"
      read -r -p "Restore $argument over the stack's database? Every current row is replaced. Type yes: " answer
      [ "$answer" = "yes" ] || die "not confirmed; nothing changed"
    fi
    in_cron backup restore "$argument" --yes
    ;;
esac
