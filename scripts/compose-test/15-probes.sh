# shellcheck shell=bash
# compose-test.sh, phase 15-probes: the programs later phases drive the stack with, built once. Sourced by
# scripts/compose-test.sh (its helpers and variables).

step "the probes (cargo build --release -p bench: chaos_load, edge_probe)"
# Built in the copy, like install_docker.sh's build: cargo fingerprints a workspace by its path, so building in the
# checkout would make the next install in the copy compile the application again.
cargo_cached build --release --locked --quiet -p bench --bin chaos_load --bin edge_probe || fail "building the probes failed"
chaos_load=$CARGO_TARGET_DIR/release/chaos_load
edge_probe=$CARGO_TARGET_DIR/release/edge_probe
pass "chaos_load and edge_probe built"
