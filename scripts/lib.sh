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

# For the test scripts (compose-test.sh, chaos-test.sh): a failed check ends the script, a passed one is a line, and
# each step shows the seconds since the script's `started` (test.sh prints each part's time; this is within a part).
fail() { echo "$script_name: FAIL: $*" >&2; exit 1; }
pass() { echo "    ok: $*"; }
step() { printf '\n--> [%ss] %s\n' "$((SECONDS - ${started:-0}))" "$*"; }

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

# The build cache: the scripts share one cargo target directory per machine, outside every checkout
# (CARGO_TARGET_DIR when set, else $APP_BUILD_CACHE/target, default ~/.cache/app-build-cache/target), so a fresh
# clone (CI's), the copies the compose tests build in and the generated projects all find the dependencies compiled.
# Cargo names a workspace crate's artifacts by its path inside the workspace, so two checkouts share them, and it
# decides that a crate is up to date from file times. A file that differs from the last build but is not newer
# than it (another checkout built since, or a copy that kept old times) would pass with the other checkout's
# artifact. build_cache_prepare closes that hole; scripts/build-cache-check.sh proves it.
# One run at a time per cache: two runs from different checkouts would build the same crates' artifacts over each
# other (a test binary replaced while the other run executes it), so the first run to take the cache holds it (the
# scripts it starts inherit the hold) and another one waits for it.
use_build_cache() {
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${APP_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/app-build-cache}/target}
  mkdir -p "$CARGO_TARGET_DIR"
  [ "${APP_BUILD_CACHE_HELD:-}" != "$CARGO_TARGET_DIR" ] || return 0
  exec {build_cache_lock}>"$CARGO_TARGET_DIR/.run.lock"
  if ! flock -n "$build_cache_lock"; then
    say "waiting for another run that holds the build cache $CARGO_TARGET_DIR"
    flock -w 7200 "$build_cache_lock" || die "the build cache $CARGO_TARGET_DIR stayed held for two hours"
  fi
  export APP_BUILD_CACHE_HELD=$CARGO_TARGET_DIR APP_BUILD_CACHE_FD=$build_cache_lock
}

# For scripts that start servers which outlive them (services.sh): the servers must not inherit the hold on the
# build cache, or it would stay held after the run.
release_build_cache_fd() {
  if [ -n "${APP_BUILD_CACHE_FD:-}" ]; then eval "exec ${APP_BUILD_CACHE_FD}>&-"; fi
}

# What cargo builds from in the workspace at $1, one "sha1  path" line per file, sorted by path: the manifests, the
# lock file and the crates' folders (sources, build scripts, templates, migrations, tests) and the frontend.
build_sources() {
  local dir=$1 paths=() path
  for path in Cargo.toml Cargo.lock rustfmt.toml web assets bench frontend; do
    [ ! -e "$dir/$path" ] || paths+=("$path")
  done
  [ ${#paths[@]} -gt 0 ] || return 0
  (
    cd "$dir" || exit 1
    if [ -d .git ] && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
      git ls-files -z --cached --others --exclude-standard -- "${paths[@]}"
    else
      find "${paths[@]}" -type f -not -path 'frontend/dist/*' -print0
    fi | sort -z | while IFS= read -r -d '' file; do
      [ -f "$file" ] && printf '%s\0' "$file"
    done | xargs -0 -r sha1sum
  )
}

# Before a cargo build of the workspace at $1 (default: here) on CARGO_TARGET_DIR: compares its sources with those
# of the last build in that directory ($CARGO_TARGET_DIR/.build-sources, whose time is that build's end). A file
# that changed but is not newer than that build gets the current time, so cargo rebuilds what uses it; so does the
# folder of a file the last build had and this one lacks. Then records these sources. Does nothing without
# CARGO_TARGET_DIR (cargo's target/ in the checkout belongs to that checkout alone).
build_cache_prepare() {
  [ -n "${CARGO_TARGET_DIR:-}" ] || return 0
  local dir=${1:-$PWD} stamp=$CARGO_TARGET_DIR/.build-sources current file touched=0
  mkdir -p "$CARGO_TARGET_DIR"
  current=$(build_sources "$dir")
  if [ -f "$stamp" ]; then
    while IFS= read -r file; do
      [ -n "$file" ] && [ ! "$dir/$file" -nt "$stamp" ] || continue
      touch "$dir/$file"
      touched=$((touched + 1))
    done < <(awk 'NR == FNR { sum[$2] = $1; next } sum[$2] != $1 { print $2 }' "$stamp" - <<<"$current")
    [ $touched -eq 0 ] || say "build cache: $touched changed file(s) not newer than the last build, touched so cargo rebuilds them"
    # A file the last build had and this workspace lacks (a generated task, page or resource that a build script
    # found) has no time to give: its folder gets the current time instead, which reruns the build script watching
    # it (cargo reads a watched folder's newest time, its own included); the crate that included the file finds it
    # gone and rebuilds.
    local folder missing=0
    while IFS= read -r file; do
      [ -n "$file" ] || continue
      folder=$(dirname "$dir/$file")
      while [ ! -d "$folder" ]; do folder=$(dirname "$folder"); done
      touch "$folder"
      missing=$((missing + 1))
    done < <(awk 'NR == FNR { here[$2] = 1; next } !($2 in here) { print $2 }' - "$stamp" <<<"$current")
    [ $missing -eq 0 ] || say "build cache: $missing file(s) of the last build missing here, their folders touched"
  fi
  printf '%s\n' "$current" >"$stamp"
}

# cargo "$@" in the current directory on the build cache: build_cache_prepare first, then the record's time set to
# the build's end, whether it passed or not.
cargo_cached() {
  build_cache_prepare "$PWD"
  local status=0
  cargo "$@" || status=$?
  [ -z "${CARGO_TARGET_DIR:-}" ] || touch "$CARGO_TARGET_DIR/.build-sources"
  return $status
}
