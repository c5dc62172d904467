"""The adversarial corpus as data: (name, language, source, expectation), reusable outside pytest.

Each program in adversarial/ attacks the sandbox and prints "ESCAPED ..." if an attack
worked; a contained run never prints it. Sources carry @@PLACEHOLDERS@@ that the
harness fills with host facts the program must not reach (see `HostFacts`), so the same
corpus can be replayed through any front end (e.g. the gRPC code verifier):

    import sys; sys.path.insert(0, "tests/sandboxes")
    from adversarial_corpus import CORPUS, CORPUS_LIMITS, render
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sandboxes import Limits

HERE = Path(__file__).with_name("adversarial")
EXTENSIONS = {".py": "python", ".c": "c", ".sh": "bash"}
KiB, MiB = 1024, 1024 * 1024

#: Small limits so destructive cases stay cheap and bounded even if a limit failed.
CORPUS_LIMITS = Limits(
    wall_time_s=2.0,
    cpu_time_s=1.0,
    memory_bytes=128 * MiB,
    processes=32,
    open_files=64,
    output_bytes=64 * KiB,
    file_size_bytes=8 * MiB,
    workdir_bytes=16 * MiB,
)

OK, NONZERO, TIMEOUT, MEMORY, OUTPUT = "ok", "nonzero_exit", "timeout", "memory", "output_limit"


@dataclass(frozen=True)
class Expectation:
    """What containment looks like for one program (beyond: no process survives, nothing leaked)."""

    statuses: frozenset[str]
    forbid: tuple[str, ...] = ()
    """Extra strings (after placeholder substitution) that must not appear in stdout or stderr."""
    stdin: bytes = b""
    max_fds: int | None = None
    """Upper bound on a count the program prints after 'fds ' (fd exhaustion)."""


@dataclass(frozen=True)
class HostFacts:
    """Host secrets and addresses a case may try to reach; the harness plants them."""

    canary_path: str
    canary_secret: str
    host_port: int
    server_cwd: str
    env_secret: str
    escape_dir: str

    def placeholders(self) -> dict[str, str]:
        return {
            "@@CANARY_PATH@@": self.canary_path,
            "@@CANARY_NAME@@": Path(self.canary_path).name,
            "@@HOST_PORT@@": str(self.host_port),
            "@@SERVER_CWD@@": self.server_cwd,
            "@@ESCAPE_DIR@@": self.escape_dir,
        }


@dataclass(frozen=True)
class Case:
    name: str
    language: str
    source: str
    expect: Expectation
    forbid_always: tuple[str, ...] = field(default=("ESCAPED",))


def _e(*statuses: str, **kw: object) -> Expectation:
    return Expectation(frozenset(statuses), **kw)  # type: ignore[arg-type]


CONTAINED = _e(OK)
SECRETS = ("@@CANARY_SECRET@@", "@@ENV_SECRET@@")

#: The expectation table: file name -> expectation. Every file in adversarial/ must appear here.
EXPECTATIONS: dict[str, Expectation] = {
    "fork_bomb.py": _e(TIMEOUT, NONZERO, MEMORY),
    "fork_bomb.sh": _e(TIMEOUT, NONZERO, MEMORY, OK),
    "fork_bomb.c": _e(TIMEOUT, NONZERO, MEMORY),
    "thread_bomb.py": _e(TIMEOUT, NONZERO, MEMORY),
    "memory_bomb.py": _e(MEMORY),
    "memory_bomb.c": _e(MEMORY),
    "memory_bomb_tree.py": _e(MEMORY, OK, NONZERO, TIMEOUT),
    "cpu_spin_ignore_sigterm.py": _e(TIMEOUT),
    "sleep_ignore_sigterm.py": _e(TIMEOUT),
    "cpu_spin.c": _e(TIMEOUT),
    "sleep_trap.sh": _e(TIMEOUT),
    "stdout_flood.py": _e(OUTPUT),
    "stderr_flood.c": _e(OUTPUT),
    "endless_line.sh": _e(OUTPUT),
    "tcp_outbound.py": CONTAINED,
    "udp_outbound.py": CONTAINED,
    "dns_lookup.py": CONTAINED,
    "host_loopback.py": CONTAINED,
    "host_loopback.c": CONTAINED,
    "host_loopback.sh": CONTAINED,
    "docker_socket.py": CONTAINED,
    "read_canary.py": _e(OK, forbid=SECRETS),
    "read_canary.sh": _e(OK, NONZERO, TIMEOUT, forbid=SECRETS),
    "read_canary.c": _e(OK, forbid=SECRETS),
    "etc_shadow.py": _e(OK, forbid=("root:",)),
    "server_cwd.py": _e(OK, forbid=("pyproject.toml", "sandboxes")),
    "server_env.py": _e(OK, forbid=SECRETS),
    "proc_environ.sh": _e(OK, NONZERO, forbid=SECRETS),
    "write_outside.py": CONTAINED,
    "write_outside.sh": CONTAINED,
    "daemon_double_fork.py": CONTAINED,
    "daemon_nohup.sh": CONTAINED,
    "daemon.c": CONTAINED,
    "kill_all.sh": _e(OK, NONZERO),
    "kill_parent.py": _e(OK, NONZERO),
    "kill_parent.c": _e(OK, NONZERO),
    "ptrace_attach.py": CONTAINED,
    "ptrace.c": CONTAINED,
    "mount_tmpfs.py": CONTAINED,
    "mount.sh": CONTAINED,
    "unshare_userns.py": CONTAINED,
    "unshare.sh": CONTAINED,
    "raw_socket.py": CONTAINED,
    "fd_exhaustion.py": _e(OK, max_fds=CORPUS_LIMITS.open_files),
    "inode_exhaustion.py": _e(OK, TIMEOUT, MEMORY, NONZERO),
    "disk_fill.py": _e(OK, MEMORY),
    "disk_fill.sh": _e(OK, NONZERO),
    "setuid_root.py": CONTAINED,
    "proc_sys_write.sh": CONTAINED,
    "kernel_surface.py": CONTAINED,
    "privileged_syscalls.c": CONTAINED,
    "cgroup_escape.sh": _e(OK, NONZERO),
    "stdin_flood_reader.py": _e(OK, stdin=b"y" * (8 * MiB)),
    "zombie_reaper_abuse.py": CONTAINED,
    "tiocsti.py": CONTAINED,
}


def _load() -> list[Case]:
    files = sorted(p for p in HERE.iterdir() if p.suffix in EXTENSIONS)
    missing = {p.name for p in files} ^ set(EXPECTATIONS)
    if missing:
        raise RuntimeError(f"adversarial corpus and expectation table disagree on: {sorted(missing)}")
    return [
        Case(p.stem + p.suffix.replace(".", "_"), EXTENSIONS[p.suffix], p.read_text(), EXPECTATIONS[p.name])
        for p in files
    ]


CORPUS: list[Case] = _load()


def render(text: str, facts: HostFacts) -> str:
    """Fill a source (or a forbidden string) with the planted host facts."""
    for key, value in {
        **facts.placeholders(),
        "@@CANARY_SECRET@@": facts.canary_secret,
        "@@ENV_SECRET@@": facts.env_secret,
    }.items():
        text = text.replace(key, value)
    return text
