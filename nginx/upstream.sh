#!/bin/bash
# Points upstream `web` at given replicas, or back at the service name, and reloads nginx gracefully (its old
# workers finish the requests they hold, then close their connections to the upstream).
#   nginx-upstream ADDRESS:PORT...   only these (a redeploy: the new replicas, while the old ones drain)
#   nginx-upstream --service         every container named `web` (as nginx-start sets it)
set -euo pipefail

die() { echo "nginx-upstream: error: $*" >&2; exit 2; }

file=/tmp/nginx/web-servers.conf
[ $# -gt 0 ] || die "usage: nginx-upstream ADDRESS:PORT... | --service"
if [ "$1" = --service ]; then
  servers='server web:8000;'
else
  servers=""
  for address in "$@"; do
    [[ "$address" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}:[0-9]{1,5}$ ]] || die "not an IPv4 address:port: $address"
    servers+="server $address;"$'\n'
  done
fi
previous=$(cat "$file")
printf '%s\n' "$servers" > "$file"
if ! nginx -e stderr -t -q; then
  printf '%s\n' "$previous" > "$file"
  die "the new upstream does not pass nginx -t; kept the previous one"
fi
nginx -e stderr -s reload
echo "nginx-upstream: web -> $(tr '\n' ' ' < "$file")"
