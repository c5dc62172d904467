"""Builds the Docker backend's Python image locally, because no registry is reachable.

`debootstrap --variant=minbase` pulls a minimal Debian rootfs from the apt mirror this
machine already uses, and `docker import` turns it into an image. The result is cached
by tag: a second call with an existing tag does nothing.

    python -m sandboxes.docker_image [--tag sandboxes/python:bookworm] [--mirror URL]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

DEFAULT_TAG = "sandboxes/python:bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: python3 gives the full standard library (python3-minimal lacks much of it).
PACKAGES = ("python3",)


def apt_mirror() -> str:
    """The Debian mirror apt is configured with, so debootstrap uses a reachable one."""
    for source in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = source.read_text()
        except OSError:
            continue
        match = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.M) or re.search(
            r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)\s", text, re.M
        )
        if match:
            return match.group(1)
    return DEFAULT_MIRROR


def image_exists(tag: str) -> bool:
    """Whether the local engine already has `tag` (the cache check)."""
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def build_image(tag: str = DEFAULT_TAG, mirror: str | None = None, suite: str = "bookworm") -> str:
    """Bootstrap a minbase rootfs with Python and import it as `tag`; returns the tag."""
    if image_exists(tag):
        return tag
    for tool in ("debootstrap", "docker", "tar"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed; see sandboxes/SETUP.md")
    with tempfile.TemporaryDirectory(prefix="sbx-rootfs-") as root:
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                suite,
                root,
                mirror or apt_mirror(),
            ],
            check=True,
        )
        # Drop caches that only bloat the image.
        shutil.rmtree(Path(root, "var/cache/apt/archives"), ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", tag], stdin=tar.stdout, check=True)
        if tar.wait() != 0:
            raise RuntimeError("tar of the bootstrapped rootfs failed")
    return tag


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: build (or find cached) the image and print its tag."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default=DEFAULT_TAG)
    parser.add_argument("--mirror", default=None)
    args = parser.parse_args(argv)
    print(build_image(args.tag, args.mirror))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
