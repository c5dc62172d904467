#!/usr/bin/env bash
# Starts the real services that tests talk to, when this machine can run them:
# a Docker engine (for the Docker sandbox backend) and a PostgreSQL server (for the
# shared registry). Tests that need one skip with a clear reason when it is absent.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .state

if command -v dockerd >/dev/null && ! docker info >/dev/null 2>&1; then
  echo "services: starting dockerd"
  # This VM (and many CI containers) has no iptables and no default bridge; sandbox
  # containers run with network_mode=none, so neither is needed.
  (dockerd --iptables=false --ip6tables=false --bridge=none >.state/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || echo "services: dockerd did not start (see .state/dockerd.log)"
fi
if docker info >/dev/null 2>&1 && [ -x .venv/bin/python ] && [ -f sandboxes/docker_image.py ]; then
  # Cached by tag: built once (debootstrap from Debian's mirror + docker import, ~1 min).
  .venv/bin/python -m sandboxes.docker_image || echo "services: sandbox image build failed"
  # The server image's base (debootstrap + docker import, once); tests then build the image itself.
  docker image inspect verifier-base:bookworm >/dev/null 2>&1 \
    || bash deploy/build_image.sh || echo "services: server image build failed"
fi
exit 0
