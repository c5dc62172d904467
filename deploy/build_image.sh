#!/usr/bin/env bash
# Build the server image without a registry: bootstrap a Debian base with debootstrap
# (once; `docker import`ed as verifier-base:bookworm), build a wheelhouse of the project
# and its dependencies plus the sandboxed programs' Python packages, and the sandbox's
# namespace init library, on the host, then `docker build` deploy/Dockerfile.
#
#   deploy/build_image.sh [TAG]        default TAG: verifier-server:dev
#   BASE_IMAGE=... MIRROR=... PYTHON=... deploy/build_image.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TAG="${1:-verifier-server:dev}"
BASE_IMAGE="${BASE_IMAGE:-verifier-base:bookworm}"
PYTHON="${PYTHON:-${ROOT}/.venv/bin/python}"
# The mirror apt itself uses (a "URIs:" or "deb" line, not a commented one), so debootstrap reaches it.
MIRROR="${MIRROR:-$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian' | head -n1 || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

for tool in docker "${PYTHON}" cc; do
    command -v "${tool}" >/dev/null || { echo "build_image.sh: ${tool} not found" >&2; exit 3; }
done
docker info >/dev/null 2>&1 || { echo "build_image.sh: no Docker engine reachable" >&2; exit 3; }

if ! docker image inspect "${BASE_IMAGE}" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || { echo "build_image.sh: debootstrap not installed" >&2; exit 3; }
    rootfs="$(mktemp -d)"
    trap 'rm -rf "${rootfs}"' EXIT
    # python3 matches the host's 3.11 wheels (bookworm ships 3.11); bubblewrap is the sandbox.
    debootstrap --variant=minbase --include=python3,python3-venv,bubblewrap,ca-certificates,passwd \
        bookworm "${rootfs}" "${MIRROR}"
    rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/*
    tar -C "${rootfs}" -c . | docker import - "${BASE_IMAGE}"
fi

# Wheels for the image's Python (cp311, manylinux); pip reuses its cache between builds. The
# packages offered to sandboxed programs (numpy, sympy, math-verify, regex) come along, pinned to
# this virtualenv's versions as on a host (sandboxes/SETUP.md), and so does the script that
# installs them into their root-owned folder inside the image.
rm -rf "${ROOT}/deploy/.wheelhouse" "${ROOT}/deploy/.sandbox-python"
sandbox_pins="$(cd "${ROOT}/scripts" && "${PYTHON}" -c 'from install_sandbox_python import wanted; print(*wanted())')"
# shellcheck disable=SC2086  # one pin per word
"${PYTHON}" -m pip wheel --quiet --wheel-dir "${ROOT}/deploy/.wheelhouse" "${ROOT}" ${sandbox_pins}
mkdir -p "${ROOT}/deploy/.sandbox-python"
cp "${ROOT}/scripts/install_sandbox_python.py" "${ROOT}/deploy/.sandbox-python/"

# The sandbox's C helpers (the fork server's namespace init, the session fork reaper), built here
# (the image has no compiler) under the names the installed package looks for: each a hash of
# its source (base and host are both Debian bookworm). sandboxes/_native.py lists them.
rm -rf "${ROOT}/deploy/.sandbox-native"
mkdir -p "${ROOT}/deploy/.sandbox-native"
(cd "${ROOT}" && "${PYTHON}" -c 'import sys; from pathlib import Path; from sandboxes._native import prebuild; prebuild(Path(sys.argv[1]))' \
    "${ROOT}/deploy/.sandbox-native")

# The context is deploy/ alone: the image needs only what was built above, not the checkout or .venv.
docker build --build-arg "BASE_IMAGE=${BASE_IMAGE}" -f "${ROOT}/deploy/Dockerfile" -t "${TAG}" "${ROOT}/deploy"
echo "${TAG}"
