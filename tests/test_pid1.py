"""As pid 1 (a container entrypoint), the server first becomes an init that reaps orphans and forwards signals."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from verifier_server.testing import REPO_ROOT, THROWAWAY_NAMESPACES

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare for a fresh pid namespace"
)

ORPHANS = """
import os, sys, time
from verifier_server.pid1 import become_init_if_pid1
become_init_if_pid1()
assert os.getpid() != 1 and os.getppid() == 1, (os.getpid(), os.getppid())
for _ in range(20):  # each round leaves an orphan that exits at once and is reparented to pid 1
    if os.fork() == 0:
        if os.fork() == 0:
            os._exit(0)
        os._exit(0)
    os.wait()
def zombies():
    found = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                found.append(p)
        except OSError:
            pass
    return found
deadline = time.monotonic() + 60  # poll: init reaps as soon as it is scheduled; unreaped ones stay forever
while zombies() and time.monotonic() < deadline:
    time.sleep(0.05)
print("zombies", len(zombies()), flush=True)
sys.exit(7)
"""

SIGNALS = """
import signal, sys, time
from verifier_server.pid1 import become_init_if_pid1
become_init_if_pid1()
signal.signal(signal.SIGTERM, lambda *_: (print("draining", flush=True), sys.exit(0)))
print("ready", flush=True)
time.sleep(30)
sys.exit(3)
"""


def run_as_pid1(code: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([*THROWAWAY_NAMESPACES, sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=env)


def test_orphans_are_reaped_and_the_exit_code_passes_through() -> None:
    proc = run_as_pid1(ORPHANS)
    out, _ = proc.communicate(timeout=180)
    assert out.strip() == "zombies 0"
    assert proc.returncode == 7


def test_sigterm_reaches_the_server() -> None:
    proc = run_as_pid1(SIGNALS)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    init = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])
    os.kill(init, signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)  # the stand-in sleeps 30 s unless the signal arrives
    assert out.strip() == "draining" and proc.returncode == 0


def test_not_pid_1_means_no_fork() -> None:
    code = "import os; from verifier_server.pid1 import become_init_if_pid1; p = os.getpid(); " \
           "become_init_if_pid1(); print(os.getpid() == p)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}).stdout
    assert out.strip() == "True"
