#!/bin/bash
# Writes the broker's configuration from RABBITMQ_DEFAULT_USER / _PASS / _VHOST (the first user and vhost, created
# only when the data directory is new), then runs the given command (rabbitmq-server by default) as PID 1.
set -euo pipefail
conf=${RABBITMQ_CONFIG_FILE:-/var/lib/rabbitmq/rabbitmq.conf}
umask 077
{
  echo "listeners.tcp.default = 5672"
  echo "management.tcp.port = 15672"
  echo "log.console = true"
  echo "log.console.level = info"
  echo "log.file = false"
  echo "loopback_users = none"
  echo "default_user = ${RABBITMQ_DEFAULT_USER:-guest}"
  echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}"
  echo "default_vhost = ${RABBITMQ_DEFAULT_VHOST:-/}"
  echo "default_user_tags.administrator = true"
  echo "default_permissions.configure = .*"
  echo "default_permissions.read = .*"
  echo "default_permissions.write = .*"
} > "$conf"
unset RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS RABBITMQ_DEFAULT_VHOST
exec "$@"
