# The local stand-in for nginx:1-bookworm, with the contract nginx/Dockerfile relies on: /usr/sbin/nginx with the
# ssl, http2, gzip and auth_basic modules, /etc/nginx/mime.types, and bash.
ARG DEBIAN_IMAGE=local-base/debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq && RUNLEVEL=1 apt-get install -y -qq nginx >/dev/null \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
