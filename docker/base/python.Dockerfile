# The local stand-in for python:3-slim-bookworm, with aiosmtpd already installed (the mail catcher needs it; with
# the official image its Dockerfile installs it from PyPI).
ARG DEBIAN_IMAGE=local-base/debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq && apt-get install -y -qq python3 python3-aiosmtpd >/dev/null \
 && rm -rf /var/lib/apt/lists/*
CMD ["python3"]
