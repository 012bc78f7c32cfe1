#!/usr/bin/env bash
# Proves that the shared build cache (scripts/lib.sh: use_build_cache, build_cache_prepare) cannot pass a stale
# artifact: two checkouts of a small workspace with the project's layout build in one target directory, the second
# with other contents and older file times, and each must run its own code.
set -euo pipefail

case "${1:-}" in
  -h|--help)
    cat <<'EOT'
Usage: scripts/build-cache-check.sh

Builds a two-file probe workspace (a binary whose build script lists a folder, as web/build.rs does) in two
folders sharing one temporary target directory, in the order that fools cargo's file-time check:
  1. checkout A ("first", parts a and b) is built;
  2. checkout B ("second", parts a and b), then C ("first", part a only), then A again, each with file times older
     than the build before it: built through build_cache_prepare, each must print its own text and parts. The same
     build by cargo alone is shown for comparison.
Needs cargo (offline: the probe has no dependencies). Takes about 20 seconds.
EOT
    exit 0 ;;
  "") ;;
  *) echo "build-cache-check.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
script_name=build-cache-check
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR=$work/target

# A workspace at $1 whose binary prints $2 and the parts named in "${@:3}" (files its build script finds).
probe() {
  local dir=$1 text=$2 part
  shift 2
  mkdir -p "$dir/web/src" "$dir/web/parts"
  printf '[workspace]\nresolver = "3"\nmembers = ["web"]\n' >"$dir/Cargo.toml"
  printf '[package]\nname = "cache-probe"\nversion = "0.1.0"\nedition = "2024"\n' >"$dir/web/Cargo.toml"
  cat >"$dir/web/build.rs" <<'RS'
fn main() {
    println!("cargo:rerun-if-changed=parts");
    let mut parts: Vec<String> = std::fs::read_dir("parts")
        .expect("parts/")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    parts.sort();
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("parts.rs");
    std::fs::write(out, format!("const PARTS: &[&str] = &{parts:?};")).expect("writing parts.rs");
}
RS
  printf 'include!(concat!(env!("OUT_DIR"), "/parts.rs"));\nfn main() {\n    println!("%s {}", PARTS.join(","));\n}\n' \
    "$text" >"$dir/web/src/main.rs"
  for part in "$@"; do echo "$part" >"$dir/web/parts/$part"; done
}
run_probe() { (cd "$1" && "$CARGO_TARGET_DIR/debug/cache-probe"); }

probe "$work/a" first a b
(cd "$work/a" && cargo_cached build --offline --quiet)
[ "$(run_probe "$work/a")" = "first a,b" ] || die "checkout A built wrong: $(run_probe "$work/a")"

# A second checkout of the same workspace, every file and folder an hour older than the last build, built by cargo
# alone (for comparison) and then through build_cache_prepare: it must print $2.
check_older() {
  local dir=$1 expected=$2 unguarded guarded
  find "$dir" -exec touch -d '1 hour ago' {} +
  (cd "$dir" && cargo build --offline --quiet)
  unguarded=$(run_probe "$dir")
  (cd "$dir" && cargo_cached build --offline --quiet)
  guarded=$(run_probe "$dir")
  [ "$guarded" = "$expected" ] || die "a stale artifact passed: $dir printed \"$guarded\" after build_cache_prepare, not \"$expected\""
  say "$(basename "$dir"): cargo alone prints \"$unguarded\"; through build_cache_prepare \"$guarded\", its own code"
}

# B: a changed source file. C: a file fewer (a part the build script of A found).
probe "$work/b" second a b
cp "$work/a/Cargo.lock" "$work/b/"
check_older "$work/b" "second a,b"
probe "$work/c" first a
cp "$work/a/Cargo.lock" "$work/c/"
check_older "$work/c" "first a"
# And back: A is unchanged, its files now older than C's build.
check_older "$work/a" "first a,b"
