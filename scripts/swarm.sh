#!/usr/bin/env bash
# prod.yml for Docker Swarm: `docker stack deploy` accepts depends_on only as a list (no conditions), CPU limits
# only as strings and no top-level `name`, so this turns the resolved prod.yml into that form. Swarm itself restarts
# a task until its dependencies answer.
set -euo pipefail

usage() {
  cat <<'EOT'
Usage: scripts/swarm.sh config|validate|deploy [STACK] [--help]

  config            print prod.yml in its Swarm form (variables resolved, depends_on as a list)
  validate          check that form with `docker stack config` (no Swarm needed)
  deploy [STACK]    docker stack deploy it as STACK (default: the folder's name); needs a Swarm manager
                    (docker swarm init) and the images pushed to a registry every node can pull from

Reads the same variables as prod.yml (IMAGE_NAMESPACE, IMAGE_TAG, REGISTRY, SERVER_NAME, ...) and needs
.envs/prod.env and .envs/secrets/ (install_docker.sh --env prod creates them).
EOT
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
script_name=swarm
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
require_compose

# A structural edit (yq: jq over YAML, Debian's `yq` package), not a text rewrite: depends_on mappings become lists of
# their keys (the conditions are dropped), compose v2's top-level `name` goes (the stack name is it), CPU limits
# become strings, and each service's pids_limit becomes its deploy.resources.limits.pids.
swarm_form() {
  command -v yq >/dev/null 2>&1 || die "yq is not installed (apt-get install yq)"
  "${compose_cmd[@]}" -f prod.yml config | yq -y '
    del(.name)
    | .services |= map_values(if (.depends_on | type) == "object" then .depends_on |= keys else . end)
    | walk(if type == "object" and has("cpus") then .cpus |= tostring else . end)
    | .services |= map_values(if has("pids_limit") then .deploy.resources.limits.pids = .pids_limit
                              | del(.pids_limit) else . end)'
}

case "${1:-}" in
  -h|--help) usage ;;
  config) swarm_form ;;
  validate)
    file=$(mktemp)
    trap 'rm -f "$file"' EXIT
    swarm_form > "$file"
    docker stack config -c "$file" >/dev/null
    echo "swarm: the Swarm form of prod.yml is valid"
    ;;
  deploy)
    stack=${2:-$(basename "$root" | tr -c 'a-zA-Z0-9_\n-' '-')}
    file=$(mktemp)
    trap 'rm -f "$file"' EXIT
    swarm_form > "$file"
    docker stack deploy --with-registry-auth -c "$file" "$stack"
    ;;
  "") usage >&2; exit 2 ;;
  *) die "unknown command: $1 (see --help)" ;;
esac
