"""Ownership of host-wide sandbox resources by flock: slot uids claimed per server, directories owned by a live process.

Why flock and not pids: the kernel drops a lock the moment its holder dies (crash,
SIGKILL, a container torn down), and a lock means the same thing across pid namespaces,
where a pid does not (a server that ran as pid 7 of its own namespace looks alive
forever to a host that has an unrelated pid 7). A lock file's content only says who
holds it, for error messages.

Slot uids: process limits (RLIMIT_NPROC) count every process of a uid host-wide, so two
servers whose slots share a uid make each other's runs fail to fork. Each server claims
its slot uids exclusively, one lock file per uid under `UID_CLAIM_DIR`; servers in
different containers on one kernel coordinate when that directory is shared (a hostPath
volume in deploy/k8s).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._types import SandboxError

UID_CLAIM_DIR = Path("/run/sandboxes/uids")
#: Largest uid the kernel accepts ((uid_t)-1 means "unchanged"; 65534 and friends are avoided by ranges).
MAX_UID = 2**32 - 2
#: Below this, uids belong to the system and its users.
MIN_UID = 1000
#: The default range: below Debian's 65000-65533 and nobody (65534), and inside the
#: 0-65535 that a container's user namespace commonly maps.
DEFAULT_UID_BASE, DEFAULT_UID_RANGE_SIZE = 60000, 4096


class Claim:
    """A held flock on one file; released by `release()` or by the holder's death."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def release(self, *, unlink: bool = False) -> None:
        """Drop the lock; `unlink` removes the file first (only for names nobody will claim again)."""
        if self._fd < 0:
            return
        if unlink:
            with contextlib.suppress(OSError):
                self.path.unlink()
        os.close(self._fd)
        self._fd = -1


def holder_note() -> str:
    """Who we are, as written into our lock files: enough for a person to find the other server."""
    return f"pid {os.getpid()} on host {socket.gethostname()}"


def try_claim(path: Path, note: str | None = None) -> Claim | None:
    """Lock `path` (created if missing) without waiting; None when a live process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, (note or holder_note()).encode(), 0)
    return Claim(path, fd)


def holder_of(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip() or "unknown"
    except OSError:
        return "unknown"


@dataclass(frozen=True)
class UidRange:
    """Host uids [base, base + size) that slots of one server may be drawn from."""

    base: int = DEFAULT_UID_BASE
    size: int = DEFAULT_UID_RANGE_SIZE

    def __post_init__(self) -> None:
        if self.size < 1:
            raise SandboxError(f"the sandbox uid range must hold at least one uid, got size {self.size}")
        if self.base < MIN_UID or self.base + self.size - 1 > MAX_UID:
            raise SandboxError(
                f"sandbox uids {self.base}..{self.base + self.size - 1} must lie within {MIN_UID}..{MAX_UID}"
            )

    def __str__(self) -> str:
        return f"{self.base}..{self.base + self.size - 1}"


class UidClaim(Claim):
    """One slot uid held exclusively by this process."""

    def __init__(self, path: Path, fd: int, uid: int) -> None:
        super().__init__(path, fd)
        self.uid = uid


def claim_uids(uids: UidRange, count: int, directory: Path = UID_CLAIM_DIR, *, purpose: str = "") -> list[UidClaim]:
    """`count` uids of `uids` no live process has claimed, lowest first; SandboxError naming the holders otherwise.

    `purpose` names what needs them in that error (default: `count` sandbox slots).
    """
    if count > uids.size:
        what = purpose or f"{count} sandbox slots"
        raise SandboxError(f"{what} need {count} uids, but the range {uids} holds only {uids.size}")
    directory.mkdir(parents=True, exist_ok=True)
    claims: list[UidClaim] = []
    holders: set[str] = set()
    note = holder_note()
    for uid in range(uids.base, uids.base + uids.size):
        path = directory / f"uid-{uid}"
        claim = try_claim(path, note)
        if claim is None:
            holders.add(holder_of(path))
            continue
        claims.append(UidClaim(path, claim._fd, uid))
        if len(claims) == count:
            return claims
    for claim in claims:
        claim.release()
    raise SandboxError(
        f"only {len(claims)} of the {count} sandbox uids this server needs are free in {uids}: other live "
        f"servers hold the rest ({'; '.join(sorted(holders))}); give each server its own range "
        f"(sandbox_uid_base / sandbox_uid_range_size) or a larger shared one"
    )


class OwnedDir:
    """A directory `base/<prefix><token>` owned by whoever holds `<that>.lock`; see `orphans`.

    The lock file is locked before it appears under its name (locked as a temporary file,
    then renamed), and the directory is created after it: a directory whose lock is
    missing or free therefore never belongs to a live owner.
    """

    def __init__(self, path: Path, claim: Claim) -> None:
        self.path, self._claim = path, claim

    @classmethod
    def create(cls, base: Path, prefix: str, mode: int = 0o711) -> OwnedDir:
        base.mkdir(parents=True, exist_ok=True)
        name = f"{prefix}{secrets.token_hex(6)}"
        partial = base / f".{name}.lock.partial"
        claim = try_claim(partial)
        if claim is None:  # a fresh random name: nobody else can hold it
            raise SandboxError(f"could not lock {partial}")
        lock = base / f"{name}.lock"
        os.replace(partial, lock)
        claim.path = lock
        path = base / name
        try:
            path.mkdir(mode=mode)
            path.chmod(mode)
        except OSError:
            claim.release(unlink=True)
            raise
        return cls(path, claim)

    def release(self) -> None:
        """After the owner removed the directory: give up the name for good."""
        self._claim.release(unlink=True)


def lock_path(directory: Path) -> Path:
    return directory.with_name(directory.name + ".lock")


def owner_gone(directory: Path) -> Claim | None:
    """The directory's lock, held now by us, if its owner is gone (None while an owner lives)."""
    lock = lock_path(directory)
    if not lock.exists():
        return Claim(lock, -1)  # nothing to hold: the owner released it (or died) before removing the directory
    return try_claim(lock, f"collector {holder_note()}")


def orphans(base: Path, prefix: str) -> Iterator[tuple[Path, Claim]]:
    """Directories `<prefix>*` under `base` whose owner is gone, each with its lock held until the caller releases it.

    Lock files left without a directory (an owner died between the two removals) are removed too.
    """
    with contextlib.suppress(OSError):
        for entry in list(base.iterdir()):
            if not entry.name.startswith(prefix):
                continue
            if entry.name.endswith(".lock"):
                if not entry.with_name(entry.name[: -len(".lock")]).exists():
                    claim = try_claim(entry, "collector")
                    if claim is not None:
                        claim.release(unlink=True)
                continue
            if not entry.is_dir():
                continue
            claim = owner_gone(entry)
            if claim is not None:
                yield entry, claim
