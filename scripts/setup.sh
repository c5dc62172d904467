#!/usr/bin/env bash
# Installs everything the server and the test suite need on a fresh Debian machine:
# system packages (bubblewrap for the sandbox, Docker engine, PostgreSQL, toolchains)
# and a virtualenv (.venv) with the project and its extras. Idempotent and quick on
# a second run: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the test that renders `verifier report`'s page in a real headless browser.
APT_PACKAGES=(bubblewrap libseccomp-dev seccomp gcc g++ make nodejs docker.io postgresql debootstrap iproute2 procps chromium)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install system packages: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python dependencies into .venv"
  .venv/bin/pip install -q --upgrade pip
  # The CPU build of torch, pinned: an unpinned requirement pulls the multi-GB CUDA build.
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -e ".[ml,dev,fleet]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# Python packages offered to sandboxed programs (numpy, sympy, math-verify, regex), in a
# root-owned folder every sandbox sees read-only; idempotent (a stamp records the pins).
if [ "$(id -u)" -eq 0 ]; then
  .venv/bin/python scripts/install_sandbox_python.py || echo "setup: sandbox Python packages not installed; their tests skip" >&2
else
  echo "setup: not root; sandboxed Python gets the standard library only (scripts/install_sandbox_python.py)" >&2
fi
