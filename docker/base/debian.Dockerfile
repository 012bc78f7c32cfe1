# The local stand-in for debian:bookworm-slim: the debootstrap root imported by scripts/base-images.sh, plus the CA
# certificates and the apt settings of the official slim image (no docs, no recommends, clean caches).
ARG ROOTFS_IMAGE=local-base/rootfs:bookworm
FROM ${ROOTFS_IMAGE}
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
# No service manager in a container: package scripts must not try to start daemons.
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
RUN printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > /etc/apt/apt.conf.d/90no-recommends \
 && printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
      > /etc/dpkg/dpkg.cfg.d/90slim \
 && apt-get update -qq && apt-get install -y -qq ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
CMD ["bash"]
