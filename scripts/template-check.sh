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
use_build_cache

if ! cargo generate --version 2>/dev/null | grep '0\.23\.' >/dev/null; then
  say "installing cargo-generate 0.23.14"
  # Its own build directory: the shared one is for the project.
  env -u CARGO_TARGET_DIR cargo install cargo-generate@0.23.14 --locked --quiet
fi

# A generated project's files that are byte for byte the template's get the template's times, and so do its folders
# holding the same names: on the shared build cache, cargo then reuses the template's build for them (same content,
# same artifacts) and compiles only what generation changed. build_cache_prepare still guards the rest.
adopt_times() {
  local project=$1 path
  while IFS= read -r -d '' path; do
    [ -f "$root/$path" ] && cmp -s "$root/$path" "$project/$path" && touch -r "$root/$path" "$project/$path"
  done < <(cd "$project" && find Cargo.toml Cargo.lock rustfmt.toml web assets bench frontend -type f -print0)
  while IFS= read -r -d '' path; do
    [ -d "$root/$path" ] && [ "$(ls -A "$root/$path")" = "$(ls -A "$project/$path")" ] && touch -r "$root/$path" "$project/$path"
  done < <(cd "$project" && find web assets bench frontend -type d -print0)
  return 0
}

work=$(mktemp -d)
if [ $keep -eq 0 ]; then trap 'rm -rf "$work"' EXIT; fi
name=demo-shop
cargo generate --path "$root" --name "$name" --destination "$work" --silent >/dev/null
project="$work/$name"
[ -d "$project" ] || die "cargo generate produced no $project"

for path in cargo-generate.toml .ci hooks scripts/template-check.sh PROJECT_README.md PROJECT_SECURITY.md target; do
  [ ! -e "$project/$path" ] || die "template-only $path was copied into the generated project"
done
head -1 "$project/README.md" | grep "$name" >/dev/null || die "README.md title does not name the project"
grep -q "^# Security policy of $name\$" "$project/SECURITY.md" && grep -q 'admin@example.com' "$project/SECURITY.md" \
  || die "SECURITY.md does not name the project and its contact"
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

# The task generator: a task on its own queue, registered by the build, with its test (run by scripts/test.sh below).
[ -f "$project/template/task/cargo-generate.toml" ] || die "template/task did not reach the project"
(cd "$project" && cargo generate --path template/task --init --name send_report --destination . --silent \
  -d description="Mail the weekly report" -d queue=reports -d max_attempts=3 >/dev/null)
[ -f "$project/web/src/tasks/app/send_report.rs" ] || die "template/task wrote no task"
[ -f "$project/web/tests/integration/tasks/app/send_report.rs" ] || die "template/task wrote no test"

# The page generator: a page at /price-list in the site's layout, routed by the build, with its test.
(cd "$project" && cargo generate --path template/page --init --name price_list --destination . --silent \
  -d title="Our prices" >/dev/null)
for file in web/src/http/pages/app/price_list.rs web/templates/app/price_list.html web/tests/integration/pages_app/price_list.rs; do
  [ -f "$project/$file" ] || die "template/page wrote no $file"
done

# The resource generator: one field of each type (optional ones too), its migration, model, API, pages and tests.
fields="name:string notes:text? quantity:i32 stock:i64? price:f64 active:bool due:date? launched_at:datetime"
(cd "$project" && cargo generate --path template/resource --init --name product_line --destination . --silent \
  -d fields="$fields" >/dev/null)
for file in web/src/models/app/product_line.rs web/src/http/resources/app/product_lines.rs \
  web/tests/integration/resources_app/product_lines.rs; do
  [ -f "$project/$file" ] || die "template/resource wrote no $file"
done
ls -d "$project"/web/migrations/*-product-lines_create_product_lines >/dev/null 2>&1 || die "template/resource wrote no migration"
# Bad input is refused with the reason, and writes nothing.
for bad in "price:money" "id:string" "name" "name:string name:text" "Name:string"; do
  if out=$(cd "$project" && cargo generate --path template/resource --init --name widget --destination . --silent \
      -d fields="$bad" 2>&1); then
    die "template/resource accepted fields=\"$bad\""
  fi
  [ ! -e "$project/web/src/models/app/widget.rs" ] || die "template/resource wrote files for fields=\"$bad\""
  echo "$out" | grep -i -e "field" -e "type" -e "name" >/dev/null || die "template/resource gave no reason for fields=\"$bad\": $out"
done

# Every combination of the options, generated with --silent: cheap checks for each, the whole test suite for the
# one most different from the default (the default itself runs below).
compose=()
if find_compose; then compose=("${compose_cmd[@]}"); fi
# What cargo builds from (as tracked by git): the workspace's manifests and lock file, its crates (sources, build
# script, askama templates, migrations, tests) and the frontend the assets crate compiles.
mapfile -t compiled < <(git -C "$root" ls-files -- Cargo.toml Cargo.lock rustfmt.toml web assets bench frontend)
[ ${#compiled[@]} -gt 10 ] || die "git ls-files found no Rust sources in $root"
check_combination() {
  local storage=$1 ci=$2 dir="$work/matrix" name="shop-$1-$2" domain="$1-$2.example.org" admin="ops@$1-$2.example.org"
  mkdir -p "$dir"
  cargo generate --path "$root" --name "$name" --destination "$dir" --silent -d domain="$domain" \
    -d admin_email="$admin" -d storage="$storage" -d ci="$ci" >/dev/null
  local p="$dir/$name" fail=""
  [ -d "$p" ] || die "$name: cargo generate produced nothing"
  # Liquid left behind in the files that went through it (askama templates, the sub-templates, Docker's format
  # strings in scripts and GitHub's ${{ }} keep braces that are not Liquid's).
  local left
  left=$(cd "$p" && grep -l -e '{{' -e '{%' README.md docker-compose.yml dev.yml prod.yml .env.sample .envs/*.sample || true)
  [ -z "$left" ] || die "$name: unrendered Liquid in: $left"
  (cd "$p" && cargo fmt --all -- --check) || die "$name: cargo fmt --check"
  # What cargo builds from is copied verbatim (cargo-generate.toml's include names none of it), so the template
  # root's clippy and tests, and the whole test.sh of two generated projects below, cover every combination's
  # build (a cargo check each took 35 s of a cold CI run and checked the same sources nine times): here, that it
  # did stay verbatim.
  local source
  for source in "${compiled[@]}"; do
    cmp -s "$root/$source" "$p/$source" || die "$name: $source differs from the template's (it must not go through Liquid)"
  done
  # The three compose files, with the env files and secrets install_docker.sh would write.
  for env in local dev prod; do cp "$p/.envs/$env.env.sample" "$p/.envs/$env.env"; done
  mkdir -p "$p/.envs/secrets"
  for secret in postgres_password database_url amqp_url smtp_url; do echo x > "$p/.envs/secrets/$secret"; done
  if [ ${#compose[@]} -gt 0 ]; then
    for file in docker-compose.yml dev.yml prod.yml; do
      (cd "$p" && "${compose[@]}" -f "$file" config -q) || die "$name: $file does not pass config"
    done
    (cd "$p" && "${compose[@]}" -f docker-compose.yml config) | grep "image: $name/app:local" >/dev/null \
      || die "$name: the local images are not named after the project"
  fi
  case "$ci" in
    github) yq -e '.jobs.test.steps[] | select(.run // "" | test("scripts/test.sh"))' "$p/.github/workflows/test.yml" \
              >/dev/null || die "$name: the GitHub workflow does not run scripts/test.sh"
            [ ! -e "$p/.gitlab-ci.yml" ] || fail="the GitLab pipeline" ;;
    gitlab) yq -e '.test.script[] | select(test("scripts/test.sh"))' "$p/.gitlab-ci.yml" >/dev/null \
              || die "$name: the GitLab pipeline does not run scripts/test.sh"
            [ ! -e "$p/.github" ] || fail="the GitHub workflow" ;;
    none)   [ ! -e "$p/.github" ] && [ ! -e "$p/.gitlab-ci.yml" ] || fail="a CI pipeline" ;;
  esac
  [ -z "$fail" ] || die "$name: $fail was kept though ci=$ci"
  head -1 "$p/README.md" | grep "$name" >/dev/null || die "$name: README title"
  grep -q "^APP_NAME=$name\$" "$p/.envs/local.env.sample" || die "$name: APP_NAME in .envs/local.env.sample"
  grep -q "^APP_NAME=$name\$" "$p/.envs/host.env.sample" || die "$name: APP_NAME in .envs/host.env.sample"
  grep -q "^EMAIL_FROM=$name <noreply@$domain>\$" "$p/.envs/prod.env.sample" || die "$name: the prod mail sender"
  grep -q "^PUBLIC_URL=https://$domain\$" "$p/.envs/prod.env.sample" || die "$name: the prod PUBLIC_URL"
  grep -q "^ADMIN_EMAIL=$admin\$" "$p/.envs/prod.env.sample" || die "$name: ADMIN_EMAIL"
  grep -q "^BACKUP_STORAGE=$storage\$" "$p/.envs/prod.env.sample" || die "$name: prod's BACKUP_STORAGE"
  grep -q "^MEDIA_STORAGE=$storage\$" "$p/.envs/prod.env.sample" || die "$name: prod's MEDIA_STORAGE"
  grep -q "^# COMPOSE_PROJECT_NAME=$name\$" "$p/.env.sample" || die "$name: COMPOSE_PROJECT_NAME in .env.sample"
  grep -q "^# SERVER_NAME=$domain www.$domain\$" "$p/.env.sample" || die "$name: SERVER_NAME in .env.sample"
  # The template's name may stay only where it names the template (README, docs/generate.md) and in the application's
  # built-in fallbacks (web/src/config), which every env sample overrides.
  left=$(grep -rIl --exclude-dir=.git --exclude-dir=config --exclude=README.md --exclude=generate.md -e rust-compose-template "$p" || true)
  [ -z "$left" ] || die "$name: the template's name is left in: $left"
  say "  $name: rendered, formatted, sources verbatim, compose config, CI file, names ($((SECONDS - combination_started))s)"
}
# yq reads the CI files (Debian's package, as for the Swarm check).
if ! command -v yq >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "yq is not installed (apt-get install yq): it checks the generated CI files"
  install_packages yq
fi
say "the option matrix: storage x ci = 9 projects"
for storage in gcs s3 local; do
  for ci in github gitlab none; do
    combination_started=$SECONDS
    check_combination "$storage" "$ci"
    [ "$storage-$ci" = local-gitlab ] || rm -rf "$work/matrix/shop-$storage-$ci"
  done
done
different="$work/matrix/shop-local-gitlab"
rm -rf "$different/.envs/"*.env "$different/.envs/secrets"
say "the combination most different from the default (storage local, ci gitlab): its scripts/test.sh"
adopt_times "$different"
(cd "$different" && COMPOSE_TEST=0 scripts/test.sh)
rm -rf "$work/matrix"

say "generated $project; running its scripts/test.sh"
adopt_times "$project"
# The compose end-to-end test runs once, at the template root (the generated compose files are the same files).
(cd "$project" && COMPOSE_TEST=0 scripts/test.sh)
(cd "$project" && CRON_SCHEDULE=cron/schedule.toml "$CARGO_TARGET_DIR/debug/app" cron list | grep '^send_digest ' >/dev/null) \
  || die "the generated scheduled command is not in the cron schedule"
(cd "$project" && "$CARGO_TARGET_DIR/debug/app" send_digest --help | grep 'Mail the daily digest' >/dev/null) \
  || die "the generated scheduled command is not an app subcommand"
"$CARGO_TARGET_DIR/debug/app" tasks names | grep '^send_report ' >/dev/null || die "the generated task is not registered"
[ $keep -eq 1 ] && say "kept $project"
say "generated project passed"
