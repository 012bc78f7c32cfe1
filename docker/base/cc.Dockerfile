# The local stand-in for gcr.io/distroless/cc-debian12:nonroot: no shell, no package manager; only the C runtime a
# Rust binary links (glibc, libgcc_s), CA certificates, and the `nonroot` user (65532) it runs as.
ARG DEBIAN_IMAGE=local-base/debian:bookworm-slim
FROM ${DEBIAN_IMAGE} AS collect
RUN set -eu; mkdir -p /out/etc /out/tmp /out/home/nonroot; chmod 1777 /out/tmp; \
    libdir=/lib/$(ls /lib | grep -- '-linux-gnu$' | head -n1); \
    mkdir -p "/out$libdir"; \
    for lib in libc.so.6 libm.so.6 libgcc_s.so.1 libdl.so.2 libpthread.so.0 librt.so.1; do \
      [ -e "$libdir/$lib" ] && cp -L "$libdir/$lib" "/out$libdir/"; \
    done; \
    for loader in /lib64/ld-linux-*.so.* /lib/ld-linux-*.so.*; do \
      [ -e "$loader" ] && mkdir -p "/out$(dirname "$loader")" && cp -L "$loader" "/out$loader"; \
    done; \
    cp /etc/ld.so.cache /out/etc/ 2>/dev/null || true; \
    mkdir -p /out/etc/ssl/certs && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /out/etc/passwd; \
    printf 'root:x:0:\nnonroot:x:65532:\n' > /out/etc/group; \
    printf 'hosts: files dns\n' > /out/etc/nsswitch.conf; \
    chown 65532:65532 /out/home/nonroot

FROM scratch
COPY --from=collect /out/ /
USER 65532:65532
WORKDIR /home/nonroot
