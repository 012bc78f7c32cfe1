# shellcheck shell=bash
# compose-test.sh, phase 10-install: install_docker.sh (local) from nothing, in a copy of the checkout. Sourced by scripts/compose-test.sh (its helpers and variables).

step "install_docker.sh (local) from nothing, in a copy of the checkout"
"${local_stack[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
copy_checkout "$stack"
cd "$stack"
COMPOSE_PROJECT_NAME=$project HTTP_PORT=$port ./install_docker.sh --timeout 400 | tee "$work/install.log"
healthy_after=$(sed -n 's/.*every service is healthy (\([0-9]*\)s after up).*/\1/p' "$work/install.log")
[ -n "$healthy_after" ] || fail "install_docker.sh did not report the stack healthy"
