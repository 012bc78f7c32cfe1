#!/bin/bash
# Writes the per-environment parts of the configuration under /tmp/nginx, checks it, and runs nginx as PID 1.
#   NGINX_MODE           local | dev | prod (default: APP_ENV, else local)
#   NGINX_TLS            on | off: dev and prod serve HTTPS from /etc/nginx/certs (fullchain.pem, privkey.pem) and
#                        redirect HTTP unless off (TLS ended by a proxy in front); prod adds HSTS
#   SERVER_NAME          host names of the site (default: any)
#   BASIC_AUTH_USER      with BASIC_AUTH_PASSWORD (or BASIC_AUTH_PASSWORD_FILE): every page asks for these
#                        credentials (required in dev, the staging wall; optional elsewhere)
set -euo pipefail

die() { echo "nginx-start: error: $*" >&2; exit 1; }

mode=${NGINX_MODE:-${APP_ENV:-local}}
conf=/tmp/nginx
mkdir -p "$conf"/client_body "$conf"/proxy "$conf"/fastcgi "$conf"/uwsgi "$conf"/scgi

case "$mode" in
  local) tls=${NGINX_TLS:-off} ;;
  dev|prod) tls=${NGINX_TLS:-on} ;;
  *) die "NGINX_MODE must be local, dev or prod; got '$mode'" ;;
esac
case "$mode/$tls" in
  local/off) cp /etc/nginx/app/site-local.conf "$conf/site.conf" ;;
  dev/off|prod/off) cp /etc/nginx/app/site-http.conf "$conf/site.conf" ;;
  dev/on|prod/on)
    for file in fullchain.pem privkey.pem; do
      [ -r "/etc/nginx/certs/$file" ] || die "$mode serves HTTPS and needs /etc/nginx/certs/$file (mount the certificate folder)"
    done
    cp /etc/nginx/app/site-https.conf "$conf/site.conf"
    ;;
  *) die "NGINX_TLS must be on or off (on: dev and prod only); got '$tls' for $mode" ;;
esac
if [ "$mode" = prod ] && [ "$tls" = on ]; then
  echo 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;' > "$conf/hsts.conf"
else
  : > "$conf/hsts.conf"
fi

name=${SERVER_NAME:-_}
[[ "$name" =~ ^[A-Za-z0-9._*\ -]+$ ]] || die "SERVER_NAME may hold only host names separated by spaces"
echo "server_name $name;" > "$conf/server_name.conf"

if [ -n "${BASIC_AUTH_PASSWORD_FILE:-}" ]; then
  BASIC_AUTH_PASSWORD=$(cat "$BASIC_AUTH_PASSWORD_FILE") || die "cannot read BASIC_AUTH_PASSWORD_FILE"
fi
if [ -n "${BASIC_AUTH_USER:-}" ]; then
  [ -n "${BASIC_AUTH_PASSWORD:-}" ] || die "BASIC_AUTH_USER is set but BASIC_AUTH_PASSWORD is empty"
  [[ "$BASIC_AUTH_USER" != *:* ]] || die "BASIC_AUTH_USER may not contain ':'"
  # bcrypt (htpasswd -B), which nginx's auth_basic checks through the system's crypt(). nginx checks the password
  # on every request, inside its event loop, so the cost stays low: 2^6 rounds take a few milliseconds a request,
  # where 2^10 would take about 60.
  umask 077
  printf '%s\n' "$BASIC_AUTH_PASSWORD" | htpasswd -niB -C 6 "$BASIC_AUTH_USER" > "$conf/htpasswd" \
    || die "htpasswd could not hash BASIC_AUTH_PASSWORD"
  grep -q '^[^:]*:\$2y\$' "$conf/htpasswd" || die "htpasswd wrote no bcrypt hash"
  printf 'auth_basic "Restricted: staging";\nauth_basic_user_file %s/htpasswd;\n' "$conf" > "$conf/auth.conf"
elif [ "$mode" = dev ]; then
  die "dev puts the site behind a password: set BASIC_AUTH_USER and BASIC_AUTH_PASSWORD"
else
  : > "$conf/auth.conf"
fi
unset BASIC_AUTH_PASSWORD

echo 'server web:8000;' > "$conf/web-servers.conf"

nginx -e stderr -t -q || die "the configuration does not pass nginx -t"
echo "nginx-start: $mode, TLS $tls, server_name $name$( [ -s "$conf/auth.conf" ] && echo ', basic auth on')"
exec nginx -e stderr -g 'daemon off;'
