# The local stand-in for rabbitmq:3-management, with the contract the compose files rely on: RABBITMQ_DEFAULT_USER,
# RABBITMQ_DEFAULT_PASS and RABBITMQ_DEFAULT_VHOST create the first user and vhost; data in /var/lib/rabbitmq (keep
# the container's hostname fixed, the node name depends on it); AMQP on 5672, management API on 15672; logs on
# stdout; `rabbitmq-diagnostics -q ping` answers when it is up; runs as `rabbitmq`.
ARG DEBIAN_IMAGE=local-base/debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq && RUNLEVEL=1 apt-get install -y -qq rabbitmq-server >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && rabbitmq-plugins enable --offline rabbitmq_management >/dev/null \
 && chown rabbitmq:rabbitmq /etc/rabbitmq/enabled_plugins \
 && mkdir -p /var/lib/rabbitmq /var/log/rabbitmq && chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
COPY rabbitmq-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# The server's own scripts first on PATH: Debian's wrappers in /usr/sbin send the server's output to
# /var/log/rabbitmq (not to the container's log) and need it writable, which a read-only root is not.
ENV RABBITMQ_CONFIG_FILE=/var/lib/rabbitmq/rabbitmq.conf HOME=/var/lib/rabbitmq PATH=/usr/lib/rabbitmq/bin:$PATH
WORKDIR /var/lib/rabbitmq
USER rabbitmq
EXPOSE 5672 15672
VOLUME /var/lib/rabbitmq
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["rabbitmq-server"]
