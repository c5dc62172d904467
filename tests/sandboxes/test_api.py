"""The package surface: exports, validation, backend probing, the CLI, the seccomp program and the unsafe backend."""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

import pytest

import sandboxes
from sandboxes import ExecStatus, Job, Limits, SandboxError, available_backends, open_sandbox
from sandboxes.cli import main as cli_main
from sandboxes.seccomp import BLOCKED_SYSCALLS, bpf_program, docker_profile


def test_all_is_sorted_and_complete() -> None:
    assert sandboxes.__all__ == sorted(sandboxes.__all__)
    assert set(sandboxes.__all__) == {
        "DEFAULT_COMPILE_LIMITS", "LANGUAGES", "ExecStatus", "Execution", "Job", "Limits", "Recipe", "Sandbox",
        "SandboxError", "as_caller", "available_backends", "available_languages", "open_sandbox"}
    for name in sandboxes.__all__:
        assert getattr(sandboxes, name) is not None


def test_defaults_are_safe() -> None:
    limits = Limits()
    assert limits.network is False and limits.wall_time_s == 10.0 and limits.memory_bytes == 256 * 1024 * 1024
    assert limits.output_bytes == 1024 * 1024 and limits.processes == 64


@pytest.mark.parametrize("field", ["wall_time_s", "memory_bytes", "processes", "output_bytes"])
def test_limits_reject_non_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 0})


@pytest.mark.parametrize("path", ["/etc/passwd", "../x", "a/../../x", "", "a//b", "./x"])
def test_job_rejects_paths_outside_the_work_dir(path: str) -> None:
    with pytest.raises(ValueError, match="relative"):
        Job("python", {path: "x"})


def test_languages_table() -> None:
    assert {"python", "c", "cpp", "javascript", "bash", "java", "rust", "go"} <= set(sandboxes.LANGUAGES)
    assert sandboxes.LANGUAGES["java"].default_entrypoint == "Main.java"


def test_available_backends_names_every_backend() -> None:
    found = available_backends()
    assert set(found) == {"bwrap", "docker", "unsafe-local"}
    assert all(isinstance(v, str) and v for v in found.values())


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(SandboxError, match="unknown sandbox backend"):
        open_sandbox("chroot")


def test_seccomp_program_is_well_formed() -> None:
    program = bpf_program()
    assert program and len(program) % 8 == 0
    ret_allow = [struct.unpack("<HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    assert any(code == 0x06 and k == 0x7FFF0000 for code, _, _, k in ret_allow)  # BPF_RET|K, SECCOMP_RET_ALLOW
    profile = json.loads(docker_profile())
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW"
    assert {"mount", "ptrace", "bpf", "io_uring_setup", "unshare"} <= set(profile["syscalls"][0]["names"])
    assert {"keyctl", "perf_event_open", "kexec_load", "init_module", "pivot_root", "setns"} <= set(BLOCKED_SYSCALLS)


async def test_unsafe_local_is_loud_and_runs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        box = open_sandbox("unsafe-local")
    assert any("UNSAFE" in r.getMessage() for r in caplog.records)
    try:
        r = await box.run(Job("python", {"main.py": "print(input()[::-1])"}, stdin="abc\n"))
        assert (r.status, r.stdout, r.backend) == (ExecStatus.OK, b"cba\n", "unsafe-local")
        r = await box.run(Job("python", {"main.py": "import time; time.sleep(30)"}, limits=Limits(wall_time_s=0.5)))
        assert r.status is ExecStatus.TIMEOUT
    finally:
        await box.aclose()


@pytest.mark.parametrize("backend", ["bwrap", "unsafe-local"])
def test_cli_prints_the_execution_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: str) -> None:
    if backend == "bwrap" and available_backends()["bwrap"] != "ok":
        pytest.skip(available_backends()["bwrap"])
    program = tmp_path / "p.py"
    program.write_text("import sys; print('got', sys.stdin.read().strip()); sys.exit(3)")
    stdin = tmp_path / "in.txt"
    stdin.write_text("data")
    code = cli_main(
        [
            "run",
            "--language",
            "python",
            str(program),
            "--stdin",
            str(stdin),
            "--time",
            "5",
            "--memory",
            "128",
            "--backend",
            backend,
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["status"] == "nonzero_exit" and out["exit_code"] == 3 and out["stdout"] == "got data\n"


UNPRIVILEGED_SCRIPT = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from sandboxes import Job, Limits, open_sandbox
async def main():
    box = open_sandbox("bwrap")
    out = []
    for src in ["import os; print(os.getuid())", "x = bytearray(512 << 20)", "while True: pass",
                "import socket; socket.create_connection(('1.1.1.1', 53), timeout=2)"]:
        r = await box.run(Job("python", {"main.py": src}, limits=Limits(wall_time_s=5, cpu_time_s=1,
                                                                       memory_bytes=128 << 20)))
        out.append([r.status.value, r.stdout.decode()])
    await box.aclose()
    print(json.dumps(out))
asyncio.run(main())
"""


def test_bwrap_works_unprivileged() -> None:
    """Without root: bwrap per run in a user namespace, rlimits instead of cgroups (the documented fallback)."""
    import os
    import shutil
    import subprocess
    import tempfile

    from sandboxes._layout import readable_by_others

    repo = Path(sandboxes.__file__).resolve().parents[1]
    if os.geteuid() != 0 or not shutil.which("setpriv") or not Path("/usr/bin/python3").exists():
        pytest.skip("needs root (to drop to nobody), setpriv and /usr/bin/python3")
    if not readable_by_others(str(repo / "sandboxes" / "__init__.py")):
        pytest.skip("the checkout is not readable by other users")
    work = Path(tempfile.mkdtemp(prefix="sbx-unpriv-", dir="/var/tmp"))  # pytest's tmp is root-only
    try:
        work.chmod(0o755)
        script = work / "unpriv.py"
        script.write_text(UNPRIVILEGED_SCRIPT)
        script.chmod(0o644)
        done = subprocess.run(
            [
                "setpriv",
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                "/usr/bin/python3",
                str(script),
                str(repo),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results[0] == ["ok", "65534\n"]
    assert [r[0] for r in results[1:]] == ["memory", "timeout", "nonzero_exit"]


def test_leftovers_of_dead_servers_are_collected() -> None:
    """A crashed server skips close(); the next pool removes its work dirs, mounts and cgroups."""
    import os
    import subprocess

    from sandboxes._slots import collect_stale
    from sandboxes.cgroups import CgroupSlot

    if os.geteuid() != 0:
        pytest.skip("pools only leave host state behind when running as root")
    dead = subprocess.Popen(["true"])
    dead.wait()
    base = Path("/run/sandboxes")
    base.mkdir(parents=True, exist_ok=True)
    stale_dir = base / f"testpool-{dead.pid}-abc"
    (stale_dir / "slot-0").mkdir(parents=True)
    cgroup = CgroupSlot.create(f"testpool-{dead.pid}-0")
    collect_stale(base, "testpool")
    assert not stale_dir.exists()
    if cgroup is not None:
        assert not any(path.exists() for path in cgroup.dirs.values())


def test_every_recipe_carries_every_fact_about_its_language() -> None:
    """Adding a language is one Recipe: its self-test, fence tags and resource policy live on it."""
    for name, recipe in sandboxes.LANGUAGES.items():
        assert recipe.hello, f"{name} has no self-test"
        assert name not in recipe.fence_tags and all(tag == tag.lower() for tag in recipe.fence_tags), name
    reserving = {name for name, recipe in sandboxes.LANGUAGES.items() if recipe.reserves_address_space}
    assert reserving == {"javascript", "java", "go", "rust"}


def test_the_sandbox_and_its_statuses_share_one_exit_classification() -> None:
    """exits.py is the one decision (also shipped into the code kind's harness); its words are ExecStatus values."""
    from sandboxes import exits

    words = {exits.OK, exits.NONZERO_EXIT, exits.TIMEOUT, exits.MEMORY, exits.OUTPUT_LIMIT, exits.SANDBOX_ERROR}
    assert words <= {status.value for status in ExecStatus}
    limits = {"wall_time_limit_s": 2.0, "cpu_time_limit_s": 1.0, "memory_bytes": 1 << 20, "output_bytes": 10}
    assert exits.classify(None, 9, cpu_time_s=0.1, **limits)[0] == "nonzero_exit"  # a SIGKILL it sent itself
    assert exits.classify(None, 9, cpu_time_s=0.1, memory_hit=True, **limits)[0] == "memory"
    assert exits.classify(None, 9, cpu_time_s=1.5, **limits)[0] == "timeout"
    assert exits.classify(None, 24, cpu_time_s=0.5, **limits)[0] == "timeout"  # SIGXCPU
    assert exits.classify(0, None, cpu_time_s=0.0, wall_timeout=True, **limits)[0] == "timeout"
    assert exits.classify(3, None, cpu_time_s=0.0, **limits) == ("nonzero_exit", "exit code 3")
    source = Path(exits.__file__).read_text()
    assert "from ." not in source and "import sandboxes" not in source  # stdlib only: it travels into jobs
