#!/usr/bin/env bash
# prod.yml for Docker Swarm: `docker stack deploy` accepts depends_on only as a list (no conditions), CPU limits
# only as strings and no top-level `name`, so this turns the resolved prod.yml into that form. Swarm itself restarts a task until its dependencies answer.
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
die() { echo "swarm: error: $*" >&2; exit 1; }

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  die "neither 'docker compose' nor 'docker-compose' is installed"
fi

swarm_form() {
  "${compose[@]}" -f prod.yml config | awk '
    # Inside a depends_on mapping, its keys (the service names) become list items; their conditions are dropped.
    function indent(line) { match(line, /^ */); return RLENGTH }
    {
      if (in_deps) {
        n = indent($0)
        if (n > deps_indent && $0 ~ /^ *[A-Za-z0-9_.-]+:$/ && (item_indent == 0 || n == item_indent)) {
          item_indent = n
          name = $0; sub(/^ */, "", name); sub(/:$/, "", name)
          printf "%*s- %s\n", deps_indent + 2, "", name
          next
        }
        if (n > deps_indent) next
        in_deps = 0
      }
      # Compose v2 prints the project name at the top; the Swarm schema has no such key (the stack name is it).
      if ($0 ~ /^name: /) next
      # compose prints CPU limits as numbers; the Swarm schema wants strings.
      if ($0 ~ /^ *cpus: [0-9.]+$/) { sub(/cpus: /, "cpus: \""); $0 = $0 "\"" }
      if ($0 ~ /^ *depends_on:$/) { in_deps = 1; deps_indent = indent($0); item_indent = 0 }
      print
    }'
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
