#!/usr/bin/env bash
# Builds local stand-ins for the official base images from a Debian mirror, for machines that cannot pull from a
# registry (air-gapped sites, Docker Hub rate limits, CI machines without a registry).
set -euo pipefail

usage() {
  cat <<'EOT'
Usage: scripts/base-images.sh [--mirror URL] [--force] [--print-env] [--help]

Builds, from a Debian bookworm mirror (debootstrap, then apt inside `docker build`), local images with the same
contracts as the official ones the Dockerfiles and compose files default to:

  local-base/debian:bookworm-slim   for debian:bookworm-slim             (DEBIAN_IMAGE)
  local-base/cc:bookworm            for gcr.io/distroless/cc-debian12    (RUNTIME_IMAGE)
  local-base/postgres:15            for postgres:15-bookworm             (POSTGRES_IMAGE)
  local-base/rabbitmq:3             for rabbitmq:3-management            (RABBITMQ_IMAGE)
  local-base/nginx:1                for nginx:1-bookworm                 (NGINX_BASE_IMAGE)
  local-base/python:3               for python:3.11-slim-bookworm        (PYTHON_IMAGE)

install_docker.sh selects them by writing those variables into the root .env (Compose reads it by itself). By
hand: scripts/base-images.sh --print-env >> .env


  --mirror URL  Debian mirror (default: the first one apt uses here, else http://deb.debian.org/debian)
  --force       rebuild even the images that exist (an image built from older sources in docker/base/ is
                rebuilt anyway: each carries the hash of its Dockerfile and copied files in a label)
  --print-env   only print the variables (NAME=image lines) that select these images; builds nothing
Needs root (debootstrap), the debootstrap package (installed with apt-get when missing) and a Docker engine.
Takes about 3 minutes the first time; later runs reuse what exists.
EOT
}

# The variables that select the images built here, as .env lines.
print_images_env() {
  cat <<'EOT'
DEBIAN_IMAGE=local-base/debian:bookworm-slim
RUNTIME_IMAGE=local-base/cc:bookworm
POSTGRES_IMAGE=local-base/postgres:15
RABBITMQ_IMAGE=local-base/rabbitmq:3
NGINX_BASE_IMAGE=local-base/nginx:1
PYTHON_IMAGE=local-base/python:3
EOT
}

mirror=""
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --mirror) [ $# -ge 2 ] || { echo "base-images.sh: --mirror needs a URL" >&2; exit 2; }; mirror=$2; shift ;;
    --force) force=1 ;;
    --print-env) print_images_env; exit 0 ;;
    *) echo "base-images.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
script_name=base-images
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

docker info >/dev/null 2>&1 || die "the Docker engine does not answer (is it running, may this user use it?)"

if [ -z "$mirror" ]; then
  mirror=$(grep -rhoE '(URIs:|^deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
    | awk '{print $2}' | grep -v security | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

exists() { docker image inspect "$1" >/dev/null 2>&1; }

if [ $force -eq 1 ] || ! exists local-base/rootfs:bookworm; then
  [ "$(id -u)" -eq 0 ] || die "debootstrap needs root; run as root once (later runs reuse the image)"
  if ! command -v debootstrap >/dev/null; then
    install_packages debootstrap
  fi
  dir=$(mktemp -d /var/tmp/base-rootfs.XXXXXX)
  trap 'rm -rf "$dir"' EXIT
  say "debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 \
    || { tail -n 20 "$dir.log" >&2; rm -f "$dir.log"; die "debootstrap failed"; }
  rm -f "$dir.log"
  # The same mirror inside the images, and nothing left from the build host.
  echo "deb $mirror bookworm main" > "$dir/etc/apt/sources.list"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | docker import -c 'CMD ["bash"]' - local-base/rootfs:bookworm >/dev/null \
    || die "docker import failed"
  rm -rf "$dir"
  trap - EXIT
fi

# What an image is built from: its Dockerfile and the files it copies. An image whose label differs (built from an
# older version of these) is rebuilt.
source_hash() {
  local file=$1
  {
    cat "docker/base/$file"
    awk '$1 == "COPY" { for (i = 2; i < NF; i++) if ($i !~ /^--/) print $i }' "docker/base/$file" \
      | while read -r copied; do
        if [ -f "docker/base/$copied" ]; then cat "docker/base/$copied"; fi
      done
  } | sha256sum | cut -c1-16
}

build() {
  local tag=$1 file=$2 hash
  hash=$(source_hash "$file")
  if [ $force -eq 0 ] && exists "$tag" \
    && [ "$(docker image inspect -f '{{index .Config.Labels "app.base.source"}}' "$tag")" = "$hash" ]; then
    say "$tag exists"
    return
  fi
  say "building $tag"
  local out
  out=$(mktemp)
  if ! docker build -q -t "$tag" --label "app.base.source=$hash" -f "docker/base/$file" docker/base >"$out" 2>&1; then
    tail -n 30 "$out" >&2
    rm -f "$out"
    die "building $tag failed"
  fi
  rm -f "$out"
}

build local-base/debian:bookworm-slim debian.Dockerfile
build local-base/cc:bookworm cc.Dockerfile
build local-base/postgres:15 postgres.Dockerfile
build local-base/rabbitmq:3 rabbitmq.Dockerfile
build local-base/nginx:1 nginx.Dockerfile
build local-base/python:3 python.Dockerfile

say "done; scripts/base-images.sh --print-env prints the variables that select them"
docker images --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | grep '^  local-base/' || true
