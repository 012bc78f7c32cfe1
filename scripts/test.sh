#!/usr/bin/env bash
# Runs every check of the project on a real PostgreSQL and RabbitMQ: formatting, clippy, the workspace tests, and,
# in the template repository, a generated project's own checks.
set -euo pipefail

usage() {
  cat <<'EOT'
Usage: scripts/test.sh [--quick] [--help]

  1. scripts/services.sh: installs when missing and starts PostgreSQL, RabbitMQ, the SMTP sink and the storage
     servers on loopback
  2. scripts/build-cache-check.sh: the shared build cache cannot pass a stale artifact (about 2 s)
  3. cargo fmt --check, cargo clippy --all-targets -D warnings, cargo deny check licenses bans sources (offline,
     after cargo fetch; deny.toml says what is allowed; installs cargo-deny 0.20 when missing)
  4. the workspace tests (cargo nextest, or cargo test when nextest is missing); each test gets its own database
  5. when a Docker engine answers: scripts/compose-test.sh, the compose stack end to end (install_docker.sh, then
     pages, API, mail, tasks, backups through nginx; the plain docker-compose commands; dev.yml's wall; prod.yml
     over TLS and in its Swarm form, a zero-downtime redeploy under load; the by-hand path), in a copy of the
     checkout; then scripts/chaos-test.sh, the local stack under six faults (killed worker, web replica and cron,
     restarted PostgreSQL, stopped RabbitMQ, a full backup target) with nothing accepted lost
  6. in the template repository only: scripts/template-check.sh generates projects (every combination of the
     generation questions, the generators) and runs this script inside two of them
  7. the checkout is as the tests found it: `git status` shows no file the tests added or changed
Ends with a table of the parts, their seconds and the crates each compiled.

  --quick   the inner loop: services, fmt, clippy and the workspace tests only (no cargo deny, no generated
            projects, nothing that needs Docker); about 4 minutes once the build cache is warm

Environment:
  TEST_DATABASE_URL  administrative connection the tests create databases through
                     (default postgres://app:app@127.0.0.1:5432/postgres)
  CARGO_TARGET_DIR   build directory, shared by every checkout, copy and generated project on this machine
                     (default: $APP_BUILD_CACHE/target)
  APP_BUILD_CACHE    where the build cache lives (default: ~/.cache/app-build-cache); delete it to start cold
  COMPOSE_TEST       auto (default: run step 5 when Docker answers), 1 (require it), 0 (skip it)
EOT
}

quick=0
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --quick) quick=1 ;;
  "") ;;
  *) echo "test.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "test.sh: one argument at most (see --help)" >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
script_name="test"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
started=$SECONDS
part_started=$SECONDS
parts=()
compiled=""
# Each part's time, printed when the next one starts and kept for the closing table with what it compiled.
step() {
  if [ -n "${part:-}" ]; then
    printf '    (%s: %ss)\n' "$part" "$((SECONDS - part_started))"
    parts+=("$(printf '%6s  %-9s %s' "$((SECONDS - part_started))" "${compiled:--}" "$part")")
  fi
  part=$*
  part_started=$SECONDS
  compiled=""
  printf '\n==> %s\n' "$*"
}
# cargo "$@" on the build cache (cargo_cached), its output shown and kept, then the crates it compiled counted
# for the closing table.
cargo_part() {
  local log status=0 count
  log=$(mktemp)
  cargo_cached "$@" 2>&1 | tee "$log" || status=$?
  count=$(grep -cE '^ *(Compiling|Checking) ' "$log" || true)
  compiled=$(( ${compiled:-0} + count ))
  rm -f "$log"
  return $status
}
checkout_status() { git -C "$root" status --porcelain --untracked-files=all 2>/dev/null || true; }
status_before=$(checkout_status)

# Base images for the compose test take minutes of downloading and little CPU: when the official ones cannot be
# pulled, build the local stand-ins in the background while the Rust steps compile.
base_images_pid=""
if [ $quick -eq 0 ] && [ "${COMPOSE_TEST:-auto}" != 0 ] && docker info >/dev/null 2>&1 \
  && ! docker image inspect debian:bookworm-slim >/dev/null 2>&1 \
  && ! timeout 60 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
  step "base images (in the background, log in ${TMPDIR:-/tmp}/base-images.log)"
  scripts/base-images.sh >"${TMPDIR:-/tmp}/base-images.log" 2>&1 &
  base_images_pid=$!
fi

step "services"
scripts/services.sh

export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://app:app@127.0.0.1:5432/postgres}
use_build_cache
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
echo "build cache: $CARGO_TARGET_DIR ($(du -sh "$CARGO_TARGET_DIR" 2>/dev/null | cut -f1) before this run)"

step "build cache: no stale artifact (scripts/build-cache-check.sh)"
scripts/build-cache-check.sh

step "format"
cargo fmt --all -- --check

step "clippy"
cargo_part clippy --locked --workspace --all-targets -- -D warnings

# What the dependency tree may hold (deny.toml): licenses, banned crates, sources. `cargo fetch` first (every
# platform's crates, which `cargo metadata` lists), then no network at all.
if [ $quick -eq 0 ]; then
step "dependencies (cargo deny check licenses bans sources)"
if ! cargo deny --version 2>/dev/null | grep '^cargo-deny 0\.20\.' >/dev/null; then
  cargo install cargo-deny@0.20.2 --locked --quiet
fi
cargo fetch --locked --quiet
cargo deny --offline --log-level error check --hide-inclusion-graph licenses bans sources
echo "cargo deny: licenses, bans and sources ok ($(grep -c '^name = ' Cargo.lock) crates in Cargo.lock)"
fi

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo_part nextest run --locked --workspace --no-fail-fast
else
  cargo_part test --locked --workspace
fi

if [ $quick -eq 1 ]; then
  :
elif [ "${COMPOSE_TEST:-auto}" = 0 ]; then
  step "compose stack: skipped (COMPOSE_TEST=0)"
elif docker info >/dev/null 2>&1; then
  if [ -n "$base_images_pid" ] && ! wait "$base_images_pid"; then
    cat "${TMPDIR:-/tmp}/base-images.log" >&2
    die "scripts/base-images.sh failed (log above)"
  fi
  step "compose stack (scripts/compose-test.sh)"
  scripts/compose-test.sh
  step "compose stack under faults (scripts/chaos-test.sh)"
  scripts/chaos-test.sh
elif [ "${COMPOSE_TEST:-auto}" = 1 ]; then
  die "COMPOSE_TEST=1 but the Docker engine does not answer"
else
  step "compose stack: skipped (no Docker engine answers)"
fi

# After the compose stacks: the generated projects build the application with their own generated code into the
# same cache, and the compose and chaos tests' copies then find the template's own build there.
if [ $quick -eq 1 ]; then
  step "quick tier: generated projects and the compose stack left to the full run"
elif [ -x scripts/template-check.sh ]; then
  step "generated project"
  scripts/template-check.sh
fi

step "the checkout is as the tests found it (git status)"
status_after=$(checkout_status)
if [ "$status_before" != "$status_after" ]; then
  diff <(printf '%s\n' "$status_before") <(printf '%s\n' "$status_after") >&2 || true
  die "the tests changed the checkout (git status, above: < before, > after); they must work on copies"
fi
step "done"
printf '\n%6s  %-9s %s\n' seconds compiled part
printf '%s\n' "${parts[@]}"
printf '(compiled: crates cargo compiled or checked in that part, of %s in Cargo.lock; the rest came from the build cache)\n' \
  "$(grep -c '^name = ' Cargo.lock)"
printf '\nAll checks passed in %ss.\n' "$((SECONDS - started))"
