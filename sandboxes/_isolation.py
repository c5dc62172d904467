"""What the bubblewrap backend's full design needs from its host, and how to say what is missing.

The full design (see SETUP.md): the server is root, every slot runs as its own claimed
host uid inside its own cgroups with a size-capped tmpfs work dir, and bwrap can create
its namespaces. Without root, runs share the server's uid, memory is an RLIMIT_AS, and
work dirs share the disk: one sample can see another's leftovers or starve it. Each
gap is one sentence naming what to change, for the server's refusal to start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._types import Execution

if TYPE_CHECKING:
    from ._slots import Slot

#: bwrap's complaint -> what usually causes it in a container, and the setting that fixes it.
_BWRAP_HINTS = (
    (
        "Can't mount proc",
        "/proc is masked (Docker: --security-opt systempaths=unconfined; Kubernetes: privileged, "
        "or procMount: Unmasked)",
    ),
    (
        "No permissions to create",
        "namespaces are refused (Docker: --security-opt seccomp=unconfined and apparmor=unconfined; "
        "the host: sysctl user.max_user_namespaces > 0, kernel.apparmor_restrict_unprivileged_userns=0)",
    ),
    ("Operation not permitted", "the container's seccomp or AppArmor profile refuses namespaces or mounts"),
    ("setting up uid map", "user namespaces are restricted on this host (sysctl user.max_user_namespaces)"),
)


#: Capabilities the full design uses (bit numbers from linux/capability.h): namespaces, mounts and
#: pivot_root; dropping to slot uids; writing into and cleaning slot work dirs; killing slot
#: processes; the fork server's device nodes. Docker grants all but SYS_ADMIN by default.
CAPABILITIES = {
    "CHOWN": 0,
    "DAC_OVERRIDE": 1,
    "FOWNER": 3,
    "KILL": 5,
    "SETGID": 6,
    "SETUID": 7,
    "SYS_ADMIN": 21,
    "MKNOD": 27,
}


#: What sessions need beside CAPABILITIES: the keeper (_keeper.py) reads a session fork's namespaces
#: and root under /proc/<pid>, which the kernel opens to root over another uid's process only
#: with SYS_PTRACE. Docker does not grant it by default; jobs never need it.
SESSION_CAPABILITIES = {"SYS_PTRACE": 19}


def missing_capabilities(wanted: Mapping[str, int] = CAPABILITIES) -> list[str]:
    """Capabilities of `wanted` (name -> bit) this process lacks (all of them when not root)."""
    try:
        status = Path("/proc/self/status").read_text()
        effective = int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")), 16)
    except (OSError, StopIteration, ValueError):
        return list(wanted)
    return [name for name, bit in wanted.items() if not effective >> bit & 1]


def session_privilege_gap() -> str | None:
    """What sessions lack beyond what jobs need, as one sentence naming the setting; None when nothing."""
    missing = missing_capabilities(SESSION_CAPABILITIES)
    if not missing:
        return None
    caps = ", ".join(f"CAP_{name}" for name in missing)
    return (
        f"the server lacks {caps}, which forking a session needs (its keeper reads each copy's namespaces "
        "under /proc; Docker: --cap-add SYS_PTRACE; Kubernetes: privileged)"
    )


def missing_privileges(privileged: bool, slots: Sequence[Slot]) -> list[str]:
    """Gaps in what the pool could set up: root with its capabilities, and a cgroup for every slot."""
    from .cgroups import unavailable_reason

    if not privileged and os.geteuid() == 0:
        caps = ", ".join(f"CAP_{name}" for name in missing_capabilities())
        return [
            f"the server is root but lacks {caps} (Docker: --cap-add SYS_ADMIN; Kubernetes: privileged): no "
            "per-run uids, cgroups or private work dirs"
        ]
    if not privileged:
        return [
            f"the server runs as uid {os.geteuid()}, not root: every run would share its uid (no per-run uids), "
            "have no cgroups (memory by RLIMIT_AS, no process-tree kill) and write to a work dir on shared disk"
        ]
    if any(slot.cgroup is None for slot in slots):
        return [f"no per-run cgroups: {unavailable_reason()}"]
    return []


def bwrap_failure_hint(execution: Execution) -> str:
    """'; likely cause' for a failed trial run, from bwrap's own message."""
    text = f"{execution.reason} {execution.stderr.decode('utf-8', 'replace')}"
    for needle, hint in _BWRAP_HINTS:
        if needle in text:
            return f" ({hint})"
    return ""
