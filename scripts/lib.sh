# shellcheck shell=bash
# Shared by every script of the project: messages, `die`, and finding Docker Compose. Source it after setting
# `script_name` (the prefix of every message), e.g.
#   script_name=services; . "$root/scripts/lib.sh"

: "${script_name:=$(basename "$0" .sh)}"

# A progress message on stdout.
say() { echo "$script_name: $*"; }

# A warning on stderr; the script goes on.
warn() { echo "$script_name: warning: $*" >&2; }

# An error on stderr, then exit 1.
die() { echo "$script_name: error: $*" >&2; exit 1; }

# Sets the array `compose_cmd` to Compose v2 (`docker compose`) or, failing that, v1 (`docker-compose`).
# Returns 1 when neither answers.
# shellcheck disable=SC2034 # compose_cmd is read by the scripts that source this file
find_compose() {
  if docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1 && docker-compose version >/dev/null 2>&1; then
    compose_cmd=(docker-compose)
  else
    return 1
  fi
}

# One line per container of a compose stack ("$@": the compose command and its flags, e.g. docker-compose -f dev.yml):
# the service, its status, its health (`none` without a health check) and its exit code.
container_states() {
  local id
  for id in $("$@" ps -q); do
    docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "$id"
  done
}

# Waits up to $1 seconds until every container of a compose stack ("${@:2}": the compose command and its flags) is
# running and healthy (or running with no health check), and every one-off that ended exited 0. On time out, prints
# the containers still pending ("service:status:health", one per line) and returns 1.
wait_stack_healthy() {
  local deadline=$((SECONDS + $1)) pending
  shift
  while :; do
    pending=$(container_states "$@" \
      | awk '($2 == "exited" && $4 != 0) || ($2 != "exited" && $3 != "healthy" && $3 != "none") { print $1 ":" $2 ":" $3 }')
    [ -z "$pending" ] && return 0
    [ $SECONDS -lt $deadline ] || { echo "$pending"; return 1; }
    sleep 2
  done
}

# find_compose, or die saying what is missing.
require_compose() {
  find_compose || die "Docker Compose is not installed (neither 'docker compose' (v2) nor 'docker-compose' (v1) answers)"
}

# apt-get "$@", one at a time across the project's scripts: test.sh builds the base images in the background
# (debootstrap) while services.sh installs servers, and two apt-get at once fail on dpkg's lock. Our own lock
# orders our scripts; dpkg's lock timeout covers anything else holding it.
apt_get() {
  flock -w 1800 /var/lock/app-template-apt.lock \
    apt-get -o DPkg::Lock::Timeout=600 "$@"
}

# Installs the Debian packages among "$@" that are missing (apt-get update first, once per script run). Needs root.
apt_updated=0
install_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then
    say "apt-get update"
    apt_get update -qq >/dev/null || die "apt-get update failed"
    apt_updated=1
  fi
  say "installing ${missing[*]}"
  # No service manager here: keep package scripts from trying to start daemons.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# Copies the checkout at $root (tracked and untracked-but-not-ignored files, as git would commit them) to the
# folder $1, which is emptied first: the tests work on copies, never on the user's checkout.
copy_checkout() {
  rm -rf "$1"
  mkdir -p "$1"
  if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$root" && git ls-files -z --cached --others --exclude-standard \
      | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$1" -xf -
    # tar keeps the files' times, but the folders it makes (the list names only files) are new; cargo compares the
    # folders a build script watches (web/build.rs) with its last run, so without this a fresh copy in the same
    # place recompiles the application (2-3 minutes of release build in chaos-test.sh after compose-test.sh).
    (cd "$1" && find . -type d -print0) | while IFS= read -r -d '' dir; do
      [ ! -d "$root/$dir" ] || touch -r "$root/$dir" "$1/$dir"
    done
  else
    tar -C "$root" --exclude=./target --exclude=./.git -cf - . | tar -C "$1" -xf -
  fi
}

# A Python venv under $1 holding the PyPI package $2 (pinned).
python_venv() {
  local venv=$1 package=$2
  [ -x "$venv/bin/python" ] && "$venv/bin/pip" show -q "${package%%[[=]*}" >/dev/null 2>&1 && return 0
  install_packages python3-venv
  say "installing $package into $venv"
  # Prefer the python3 on PATH (it may be newer than Debian's); fall back to Debian's.
  { python3 -m venv "$venv" 2>/dev/null || /usr/bin/python3 -m venv "$venv"; } || die "cannot create $venv"
  "$venv/bin/pip" install --quiet "$package" || die "pip install $package failed"
}
