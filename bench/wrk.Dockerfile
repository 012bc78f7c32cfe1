# wrk in a container, so that `target/release/http --compose-project` (bench/src/bin/http) can load the stack's
# nginx from inside its own compose network (by service name), without Docker's userland proxy on the published
# port in the path.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends wrk && rm -rf /var/lib/apt/lists/*
USER 65534
ENTRYPOINT ["wrk"]
