# shellcheck shell=bash
# compose-test.sh, phase 15-probes: the programs later phases drive the stack with, built once. Sourced by
# scripts/compose-test.sh (its helpers and variables).

step "the probes (cargo build --workspace --all-targets: bench's chaos_load and edge_probe)"
# A debug build of the whole workspace with its tests, as the workspace tests just built it: the same features for
# every dependency (a build of bench alone unifies them differently, and in release it made the next install compile
# the application again), so only the two programs are linked. In the copy, like install_docker.sh's build.
cargo_cached build --locked --quiet --workspace --all-targets || fail "building the probes failed"
chaos_load=$CARGO_TARGET_DIR/debug/chaos_load
edge_probe=$CARGO_TARGET_DIR/debug/edge_probe
pass "chaos_load and edge_probe built"
