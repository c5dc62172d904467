"""Every program of the adversarial corpus, against every backend: contained, nothing survives, nothing leaks.

Destructive cases cannot take the test machine down even if a sandbox layer failed:
they run under small limits enforced by independent mechanisms (cgroups and rlimits,
an unprivileged uid, namespaces, seccomp), and every privileged syscall in the corpus
uses arguments that are harmless if the call were allowed (bad reboot magic, a
non-existent swap file or module, settimeofday(NULL, NULL)).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from adversarial_corpus import CORPUS, CORPUS_LIMITS, Case, HostFacts, render
from sandbox_probe import assert_no_survivors

from sandboxes import DEFAULT_COMPILE_LIMITS, Job, Sandbox

pytestmark = pytest.mark.asyncio(loop_scope="module")
ENV_SECRET = "env-secret-4b1d"
WATCHED_KNOBS = ("/proc/sys/kernel/printk_ratelimit", "/proc/sys/kernel/hostname")


class Host:
    """Planted secrets and a listening loopback port, plus checks that none was touched."""

    def __init__(self) -> None:
        base = Path(tempfile.mkdtemp(prefix="sbx-adversarial-", dir="/var/tmp"))
        base.chmod(0o755)  # readable by anyone: only the sandbox's mount namespace may hide it
        self.base = base
        self.canary = base / "canary-7f3a.txt"
        self.secret = "canary-secret-91c2"
        self.canary.write_text(self.secret)
        self.canary.chmod(0o644)
        self.escape_dir = base / "escape"
        self.escape_dir.mkdir()
        self.escape_dir.chmod(0o1777)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.setblocking(False)
        self.knobs = {k: Path(k).read_text() for k in WATCHED_KNOBS}
        self.facts = HostFacts(
            str(self.canary), self.secret, self.listener.getsockname()[1], os.getcwd(), ENV_SECRET, str(self.escape_dir)
        )

    def assert_untouched(self) -> None:
        assert self.canary.read_text() == self.secret
        assert list(self.escape_dir.iterdir()) == [], "a program wrote outside its work dir"
        with pytest.raises(BlockingIOError):
            self.listener.accept()[0].close()
        assert {k: Path(k).read_text() for k in WATCHED_KNOBS} == self.knobs
        assert os.path.exists("/var/run/docker.sock") or not shutil.which("dockerd")

    def close(self) -> None:
        self.listener.close()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    planted = Host()
    yield planted
    planted.close()


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
async def test_contained(sandbox: Sandbox, host: Host, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    if case.language not in sandbox.languages():
        pytest.skip(f"{case.language} not available in {sandbox.name}")
    monkeypatch.setenv("SANDBOX_ADVERSARIAL_SECRET", ENV_SECRET)
    ext = {"python": "py", "c": "c", "bash": "sh"}[case.language]
    job = Job(
        case.language,
        {f"main.{ext}": render(case.source, host.facts)},
        stdin=case.expect.stdin,
        limits=CORPUS_LIMITS,
        compile_limits=DEFAULT_COMPILE_LIMITS,
    )
    r = await sandbox.run(job)
    output = r.stdout + r.stderr
    assert r.status.value in case.expect.statuses, f"{r.status}: {r.reason}\n{output[-2000:]!r}"
    for needle in (*case.forbid_always, *case.expect.forbid):
        assert render(needle, host.facts).encode() not in output, output[-2000:]
    if case.expect.max_fds is not None:
        assert int(r.stdout.split()[1]) <= case.expect.max_fds
    assert len(r.stdout) <= CORPUS_LIMITS.output_bytes and len(r.stderr) <= CORPUS_LIMITS.output_bytes
    await assert_no_survivors()
    host.assert_untouched()
