#!/usr/bin/env bash
# Template-only (not copied into generated projects): generates a project with cargo-generate and runs that
# project's own scripts/test.sh inside it, sharing the build directory so dependencies compile once.
set -euo pipefail

usage() {
  cat <<'EOT'
Usage: scripts/template-check.sh [--keep]

Generates a project from this repository with cargo-generate (installing cargo-generate 0.23.14 when missing),
checks that no template-only file or unrendered placeholder reached it, and runs its scripts/test.sh.
  --keep   leave the generated project in place and print its path
EOT
}

keep=0
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --keep) keep=1 ;;
  "") ;;
  *) echo "template-check.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
script_name=template-check
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

if ! cargo generate --version 2>/dev/null | grep -q '0\.23\.'; then
  say "installing cargo-generate 0.23.14"
  # Its own build directory: the shared one is for the project.
  env -u CARGO_TARGET_DIR cargo install cargo-generate@0.23.14 --locked --quiet
fi

work=$(mktemp -d)
if [ $keep -eq 0 ]; then trap 'rm -rf "$work"' EXIT; fi
name=demo-shop
cargo generate --path "$root" --name "$name" --destination "$work" --silent >/dev/null
project="$work/$name"
[ -d "$project" ] || die "cargo generate produced no $project"

for path in cargo-generate.toml .ci hooks scripts/template-check.sh PROJECT_README.md target; do
  [ ! -e "$project/$path" ] || die "template-only $path was copied into the generated project"
done
head -1 "$project/README.md" | grep -q "$name" || die "README.md title does not name the project"
if grep -rIl --exclude-dir=.git --exclude-dir=template -e '{{ *project' -e '{{ *crate_name' "$project" >/dev/null; then
  die "unrendered placeholders in: $(grep -rIl --exclude-dir=.git --exclude-dir=template -e '{{ *project' -e '{{ *crate_name' "$project" | tr '\n' ' ')"
fi
cmp -s "$root/Cargo.lock" "$project/Cargo.lock" || die "Cargo.lock differs: the generated project would resolve other versions"

# The sub-template for scheduled commands must work inside the generated project.
[ -f "$project/template/cron-command/cargo-generate.toml" ] || die "template/cron-command did not reach the project"
(cd "$project" && cargo generate --path template/cron-command --init --name send_digest --destination . --silent \
  -d description="Mail the daily digest" -d schedule="0 15 6 * * *" -d timeout_secs=900 >/dev/null)
[ -f "$project/web/src/commands/scheduled/send_digest.rs" ] || die "template/cron-command wrote no command"
grep -q 'schedule = "0 15 6 \* \* \*"' "$project/cron/schedule.d/send_digest.toml" || die "template/cron-command wrote no schedule"

say "generated $project; running its scripts/test.sh"
# The compose end-to-end test runs once, at the template root (the generated compose files are the same files).
(cd "$project" && COMPOSE_TEST=0 scripts/test.sh)
(cd "$project" && CRON_SCHEDULE=cron/schedule.toml "$CARGO_TARGET_DIR/debug/app" cron list | grep -q '^send_digest ') \
  || die "the generated scheduled command is not in the cron schedule"
(cd "$project" && "$CARGO_TARGET_DIR/debug/app" send_digest --help | grep -q 'Mail the daily digest') \
  || die "the generated scheduled command is not an app subcommand"
[ $keep -eq 1 ] && say "kept $project"
say "generated project passed"
