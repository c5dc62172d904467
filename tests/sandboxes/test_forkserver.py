"""The warm Python fork server's own guarantees: a real init per run, reaped orphans, no leaked namespaces."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sandbox_probe import UID_BASE, UID_RANGE_SIZE, assert_no_survivors

from sandboxes import ExecStatus, Job, Limits, SandboxError, _native, available_backends, open_sandbox
from sandboxes._native import default_cache
from sandboxes.bwrap import BwrapSandbox

module_loop = pytest.mark.asyncio(loop_scope="module")
INIT_COMM = b"sandbox-init\n"
WARM = 2


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def box() -> AsyncIterator[BwrapSandbox]:
    if os.geteuid() != 0:
        pytest.skip("the fork server needs host root")
    if available_backends()["bwrap"] != "ok":
        pytest.skip(available_backends()["bwrap"])
    sandbox = open_sandbox("bwrap", forkserver=True, uid_base=UID_BASE, uid_range_size=UID_RANGE_SIZE, concurrency=WARM)
    assert isinstance(sandbox, BwrapSandbox)
    try:
        yield sandbox
    finally:
        await sandbox.aclose()


def py(source: str, **kw: object) -> Job:
    return Job("python", {"main.py": source}, **kw)  # type: ignore[arg-type]


def zygote_pid(box: BwrapSandbox) -> int:
    server = box._forkserver
    assert server is not None and server._proc is not None, "python jobs did not go to the fork server"
    return server._proc.pid


def children(pid: int) -> dict[int, bytes]:
    """Live children of `pid` -> comm."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == pid and stat[0] not in ("Z", "X"):
                found[int(entry.name)] = (entry / "comm").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
    return found


@module_loop
async def test_the_program_is_not_pid_1_of_its_namespace(box: BwrapSandbox) -> None:
    r = await box.run(py("import os; print(os.getpid()); print(open('/proc/1/comm', 'rb').read())"))
    assert r.status is ExecStatus.OK, r
    pid, init = r.stdout.decode().splitlines()
    assert int(pid) != 1
    assert init == repr(INIT_COMM)
    zygote_pid(box)


@module_loop
async def test_a_program_can_kill_itself(box: BwrapSandbox) -> None:
    """pid 1 would ignore its own SIGKILL; the program is not pid 1, so the signal ends it."""
    r = await box.run(py("import os, signal; os.kill(os.getpid(), signal.SIGKILL); print('survived')"))
    assert (r.status, r.signal, r.stdout) == (ExecStatus.NONZERO_EXIT, 9, b"")
    r = await box.run(py("import os; os.abort()"))
    assert r.signal == signal.SIGABRT


@module_loop
async def test_orphans_are_reaped_during_the_run(box: BwrapSandbox) -> None:
    """Each round leaves an orphan that exits at once. Unreaped, the zombies would exhaust the
    process limit (a zombie still counts) long before the 60 rounds are done. A fork refused at
    the limit is retried for a while: on a busy machine the init may not have been scheduled
    to reap yet, but without reaping no retry ever succeeds."""
    source = (
        "import os, time\n"
        "def fork():\n"
        "    deadline = time.monotonic() + 30\n"
        "    while True:\n"
        "        try:\n"
        "            return os.fork()\n"
        "        except BlockingIOError:\n"
        "            if time.monotonic() > deadline:\n"
        "                raise\n"
        "            time.sleep(0.01)\n"
        "for i in range(60):\n"
        "    child = fork()\n"
        "    if child == 0:\n"
        "        try:\n"
        "            if fork() == 0:\n"
        "                os._exit(0)\n"
        "        except OSError:\n"
        "            os._exit(1)\n"
        "        os._exit(0)\n"
        "    if os.waitpid(child, 0)[1] != 0:\n"
        "        raise SystemExit(f'fork failed in round {i}')\n"
        "print('done')\n"
    )
    r = await box.run(py(source, limits=Limits(processes=12, wall_time_s=120.0)))
    assert (r.status, r.stdout) == (ExecStatus.OK, b"done\n"), r


@module_loop
async def test_no_namespace_outlives_its_run(box: BwrapSandbox) -> None:
    programs = [
        "print('ok')",
        "raise SystemExit(3)",
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nprint('parent leaves')",
        "while True: pass",
        "import os; os.kill(os.getpid(), 9)",
    ]
    limits = Limits(wall_time_s=1.0, cpu_time_s=0.5)
    for _ in range(3):
        results = await asyncio.gather(*(box.run(py(p, limits=limits)) for p in programs))
        assert all(r.status is not ExecStatus.SANDBOX_ERROR for r in results), results
    await assert_no_survivors()
    zygote = zygote_pid(box)
    deadline = time.monotonic() + 60  # the zygote reaps as soon as it is scheduled
    while True:
        inits = [pid for pid, comm in children(zygote).items() if comm == INIT_COMM]
        if len(inits) <= WARM or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert len(inits) <= WARM, f"{len(inits)} namespace inits alive for {WARM} warm chains"


@module_loop
async def test_a_dead_zygote_takes_its_warm_namespaces_along(box: BwrapSandbox) -> None:
    r = await box.run(py("print(1)"))
    assert r.status is ExecStatus.OK
    zygote = zygote_pid(box)
    warm = children(zygote)
    assert any(comm == INIT_COMM for comm in warm.values()), warm
    os.kill(zygote, signal.SIGKILL)
    alive = list(warm)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        alive = [pid for pid in alive if _state(pid) not in "ZX"]
        if not alive:
            break
        await asyncio.sleep(0.05)
    assert not alive, f"chains of a dead zygote still alive: {alive}"
    r = await box.run(py("print('restarted')"))  # and the next job gets a fresh zygote
    assert (r.status, r.stdout) == (ExecStatus.OK, b"restarted\n"), r
    assert zygote_pid(box) != zygote


@module_loop
async def test_an_init_killed_from_outside_ends_only_its_run(box: BwrapSandbox) -> None:
    """Killed from outside, a namespace init takes its run along: the zygote reaps the two in either
    order, reports the run as killed, forgets the init (never signalling its pid again) and serves on."""
    assert (await box.run(py("print(1)"))).status is ExecStatus.OK  # the zygote and its warm chains exist
    zygote = zygote_pid(box)
    run = asyncio.ensure_future(box.run(py("import time\ntime.sleep(120)", limits=Limits(wall_time_s=180.0))))
    deadline = time.monotonic() + 60
    running: list[int] = []
    while not running and time.monotonic() < deadline:  # the run's process: the zygote's child with the slot's uid
        running = [pid for pid, comm in children(zygote).items() if comm == b"python3\n" and _uid(pid) not in (0, None)]
        await asyncio.sleep(0.05)
    assert running, "the run never started"
    namespace = os.readlink(f"/proc/{running[0]}/ns/pid")
    (init,) = [pid for pid, comm in children(zygote).items() if comm == INIT_COMM and _pid_ns(pid) == namespace]
    os.kill(init, signal.SIGKILL)
    r = await asyncio.wait_for(run, 60)
    assert (r.status, r.signal) == (ExecStatus.NONZERO_EXIT, 9), r
    r = await box.run(py("print('still serving')"))
    assert (r.status, r.stdout) == (ExecStatus.OK, b"still serving\n"), r
    while time.monotonic() < deadline:
        inits = [pid for pid, comm in children(zygote).items() if comm == INIT_COMM]
        if len(inits) <= WARM:
            break
        await asyncio.sleep(0.05)
    assert len(inits) <= WARM, f"{len(inits)} namespace inits alive for {WARM} warm chains"


IGNORED_SIGCHLD_HOST = """
import asyncio, signal, sys
from sandboxes import Job, Limits, open_sandbox

async def main():
    uids = {"uid_base": int(sys.argv[1]), "uid_range_size": int(sys.argv[2])}
    box = open_sandbox("bwrap", forkserver=True, concurrency=1, **uids)
    box.pool()  # the slots' network namespaces are made (and waited for) with SIGCHLD as usual
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # inherited by the zygote the first Python job starts
    try:
        source = "import signal\\nprint(signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL)"
        job = Job("python", {"main.py": source}, limits=Limits(wall_time_s=30.0))
        r = await box.run(job)
        print(r.status.value, r.stdout.decode().strip(), box._forkserver is not None)
    finally:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        await box.aclose()

asyncio.run(main())
"""


def test_a_host_that_ignores_sigchld_still_gets_each_runs_status(box: BwrapSandbox) -> None:
    """An ignored SIGCHLD survives exec: a zygote started from a host that ignores it would have the kernel
    reap every run before the zygote could, and no status would ever come. Runs start from the default."""
    done = subprocess.run(
        [sys.executable, "-c", IGNORED_SIGCHLD_HOST, str(UID_BASE), str(UID_RANGE_SIZE)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert done.stdout.split() == ["ok", "True", "True"], (done.stdout, done.stderr[-2000:])


def _uid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/status").read_text().split("\nUid:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _pid_ns(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return ""


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


@pytest.mark.parametrize("helper", _native.HELPERS, ids=lambda h: h.stem)
def test_each_c_helper_is_built_once_and_cached(helper: _native.NativeHelper, tmp_path: Path) -> None:
    first = helper.path(tmp_path, prebuilt=tmp_path / "none")
    assert first.exists() and first.read_bytes()[:4] == b"\x7fELF" and os.access(first, os.X_OK)
    mtime = first.stat().st_mtime_ns
    assert helper.path(tmp_path, prebuilt=tmp_path / "none") == first and first.stat().st_mtime_ns == mtime
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("helper", _native.HELPERS, ids=lambda h: h.stem)
def test_a_missing_compiler_is_a_clear_error(
    helper: _native.NativeHelper, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sandboxes._native.shutil.which", lambda _name: None)
    with pytest.raises(SandboxError, match=f"building {helper.purpose} needs a C compiler"):
        helper.path(tmp_path, prebuilt=tmp_path / "none")


def test_prebuilt_helpers_are_found_without_a_compiler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an image without a compiler ships (deploy/build_image.sh runs `prebuild`) is what each helper looks for."""
    shipped = _native.prebuild(tmp_path / "prebuilt")
    assert sorted(p.name for p in shipped) == sorted(h.file_name() for h in _native.HELPERS)
    monkeypatch.setattr("sandboxes._native.shutil.which", lambda _name: None)
    for helper in _native.HELPERS:
        found = helper.path(tmp_path / "cache", prebuilt=tmp_path / "prebuilt")
        assert found == tmp_path / "prebuilt" / helper.file_name()
    assert not (tmp_path / "cache").exists()


def test_sessions_name_a_missing_sys_ptrace_and_need_nothing_more_here() -> None:
    """A container without CAP_SYS_PTRACE runs jobs but not session forks: said ahead, naming the flag."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("dropping a capability (setpriv) needs root")
    probe = "from sandboxes.sessions import sessions_unavailable_reason as r; print(r())"
    root = Path(__file__).resolve().parents[2]
    run = {"capture_output": True, "text": True, "timeout": 120, "check": True, "cwd": root}
    here = subprocess.run([sys.executable, "-c", probe], **run)
    assert here.stdout.strip() == "None", here.stdout
    dropped = subprocess.run(["setpriv", "--bounding-set", "-sys_ptrace", sys.executable, "-c", probe], **run)
    assert "lacks CAP_SYS_PTRACE" in dropped.stdout and "--cap-add SYS_PTRACE" in dropped.stdout, dropped.stdout


@module_loop
async def test_every_run_gets_pristine_standard_streams(box: BwrapSandbox) -> None:
    """The streams are built once in the zygote: what one run reads, buffers or reconfigures stays in that run."""
    first = (
        "import sys\n"
        "print(sys.stdin.readline().strip(), end='')\n"
        "sys.stdout.reconfigure(encoding='latin-1')\n"
        "sys.stderr.write('half a line')\n"
    )
    r = await box.run(py(first, stdin="one\ntwo\n"))
    assert (r.status, r.stdout, r.stderr) == (ExecStatus.OK, b"one", b"half a line"), r
    second = (
        "import sys\n"
        "data = sys.stdin.read()\n"
        "print(repr(data), sys.stdout.encoding, sys.stdin.seekable(), sys.stdout.seekable(), sys.stdin.isatty())\n"
        "print('\\u00e9', file=sys.stderr)\n"
    )
    r = await box.run(py(second, stdin="three\n"))
    assert r.status is ExecStatus.OK, r
    assert r.stdout == b"'three\\n' utf-8 False False False\n"
    assert r.stderr == "\u00e9\n".encode()


@module_loop
async def test_more_runs_than_the_init_table_holds(box: BwrapSandbox) -> None:
    """Each run's init gets a stack that must be released when it is reaped: 1,100 runs through
    one zygote would exhaust the 1,024-entry table (sandbox errors) if one were ever leaked."""
    job = py("print('ok')")
    assert (await box.run(job)).stdout == b"ok\n"
    zygote = zygote_pid(box)
    for _ in range(275):
        results = await asyncio.gather(*(box.run(job) for _ in range(4)))
        assert all(r.stdout == b"ok\n" for r in results), [r for r in results if r.stdout != b"ok\n"][:1]
    assert zygote_pid(box) == zygote, "the zygote was restarted"


@module_loop
async def test_command_lines_do_not_reveal_host_paths(box: BwrapSandbox) -> None:
    r = await box.run(py("print(open('/proc/self/cmdline', 'rb').read()); print(open('/proc/1/cmdline', 'rb').read())"))
    assert r.status is ExecStatus.OK, r
    assert b"sandboxes" not in r.stdout and b"_zygote" not in r.stdout, r.stdout
    assert r.stdout.splitlines()[0] == repr(b"python3 -I sandbox-zygote\0").encode()


#: Everything a program can reach from Python objects and its own /proc, as a set of ints and a list of
#: strings; then which needles (read from stdin only afterwards) were among them. The same modules are
#: imported as the zygote preloads, so a fresh interpreter (the control run) has the same constants.
MEMORY_PROBE = """
import gc, json, os, sys, types
from sandboxes_preload import *
ints, texts, seen = set(), [], set()
stack = [sys.modules, sys.__dict__, os.environ, gc.get_objects(), list(sys._current_frames().values())]
frame = sys._getframe()
while frame is not None:
    stack += [frame, frame.f_locals, frame.f_globals, frame.f_code]
    frame = frame.f_back
while stack:
    obj = stack.pop()
    if id(obj) in seen:
        continue
    seen.add(id(obj))
    if isinstance(obj, bool) or isinstance(obj, float):
        continue
    if isinstance(obj, int):
        ints.add(obj)
    elif isinstance(obj, str):
        texts.append(obj)
    elif isinstance(obj, (bytes, bytearray)):
        texts.append(bytes(obj).decode("latin-1"))
    elif isinstance(obj, types.CodeType):
        texts.append(obj.co_filename)
        stack.extend(obj.co_consts)
    else:
        stack.extend(gc.get_referents(obj))
proc = []
for name in ("cgroup", "mountinfo", "environ", "cmdline", "status", "stat"):
    for pid in ("self", "1"):
        try:
            proc.append(open(f"/proc/{pid}/{name}", "rb").read().decode("latin-1"))
        except OSError:
            pass
proc.append(str(os.getppid()))
import re
needles = json.loads(sys.stdin.read())
def among(texts):
    found = [p for p in needles["paths"] if any(p in t for t in texts)]
    return found + [n for n in needles["pids"] if any(re.search(f"(?<![0-9]){n}(?![0-9])", t) for t in texts)]
print(json.dumps({"python": among(texts) + [n for n in needles["pids"] if n in ints], "proc": among(proc)}))
"""


def _zygote_family(zygote: int) -> set[int]:
    """Host pids of the zygote's chains: their run processes and namespace inits (children of the zygote)."""
    return set(children(zygote))


@module_loop
async def test_a_run_cannot_read_what_the_zygotes_loop_knows(box: BwrapSandbox) -> None:
    """The zygote's C loop keeps the host pids of every chain and namespace init; each run is a fork of
    it, made while others are running, and forgets them all before any program runs (the loop is
    loaded with its symbols global, so a run can ask its own copy)."""
    probe = py("import ctypes\nprint(ctypes.CDLL(None).zygote_known_processes())", limits=Limits(wall_time_s=30.0))
    runs = [await box.run(probe) for _ in range(6)]  # each run's process is forked after others were reaped
    runs += await asyncio.gather(*(box.run(probe) for _ in range(4)))
    for r in runs:
        assert (r.status, r.stdout) == (ExecStatus.OK, b"0\n"), r


@module_loop
async def test_a_run_cannot_read_host_paths_or_pids_from_the_fork_servers_memory(box: BwrapSandbox) -> None:
    """Every run is a fork of the zygote: whatever the zygote's Python objects hold (argv, frames, code
    objects, module state) a program can read. The checkout's path, the server's pid, the zygote's and
    other chains' host pids must not be among them."""
    from sandboxes._zygote import PRELOAD

    preload = "".join(f"import {name}\n" for name in PRELOAD)
    files = {"main.py": MEMORY_PROBE, "sandboxes_preload.py": preload}
    assert (await box.run(py("print(1)"))).status is ExecStatus.OK  # the zygote and its warm chains exist
    zygote = zygote_pid(box)
    pids = sorted({os.getpid(), zygote, *_zygote_family(zygote)} - {1})
    checkout = str(Path(__file__).resolve().parents[2])
    needles = json.dumps({"paths": [checkout], "pids": pids})
    limits = Limits(wall_time_s=60.0, cpu_time_s=60.0, memory_bytes=512 << 20, output_bytes=1 << 20)
    control = await box.run(Job("python", files, command=("python3", "main.py"), stdin=needles, limits=limits))
    assert control.status is ExecStatus.OK, control
    constants = set(json.loads(control.stdout)["python"])  # numbers any interpreter's objects happen to hold
    forked = await box.run(Job("python", files, stdin=needles, limits=limits))
    assert forked.status is ExecStatus.OK, forked
    found = json.loads(forked.stdout)
    leaked = [n for n in found["python"] if n not in constants] + found["proc"]
    assert not leaked, f"readable from inside the sandbox: {leaked} (checkout {checkout}, pids {pids})"


@module_loop
async def test_without_its_init_python_falls_back_to_bwrap_per_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if os.geteuid() != 0 or available_backends()["bwrap"] != "ok":
        pytest.skip("needs root and bwrap")

    def no_compiler(*_args: object, **_kwargs: object) -> Path:
        raise SandboxError("building the fork server's namespace init needs a C compiler (cc), and none is installed")

    monkeypatch.setattr(_native.NativeHelper, "path", no_compiler)
    sandbox = open_sandbox("bwrap", forkserver=True, uid_base=UID_BASE, uid_range_size=UID_RANGE_SIZE, concurrency=1)
    assert isinstance(sandbox, BwrapSandbox)
    try:
        r = await sandbox.run(py("print('still runs')"))
        assert (r.status, r.stdout) == (ExecStatus.OK, b"still runs\n"), r
        assert sandbox._forkserver is None
        assert "C compiler" in caplog.text
    finally:
        await sandbox.aclose()


def test_the_init_library_is_never_cached_where_code_cannot_be_mapped(tmp_path: Path) -> None:
    """/run is mounted noexec on many systemd hosts: a library there would fail to load."""
    if os.geteuid() != 0:
        pytest.skip("mounting a noexec tmpfs needs root")
    noexec, fine = tmp_path / "noexec", tmp_path / "fine"
    noexec.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "noexec,size=1m", "tmpfs", str(noexec)], check=True)
    try:
        assert default_cache((noexec / "sandboxes", fine / "sandboxes")) == fine / "sandboxes"
        with pytest.raises(SandboxError, match="noexec"):
            default_cache((noexec / "sandboxes",))
    finally:
        subprocess.run(["umount", str(noexec)], check=True)


@module_loop
async def test_preloaded_modules_are_imported_once_and_every_run_gets_a_pristine_copy() -> None:
    """`preload`: trusted modules the zygote imports (in order), found by a job in sys.modules without its files."""
    sandbox = open_sandbox(
        "bwrap",
        forkserver=True,
        uid_base=UID_BASE,
        uid_range_size=UID_RANGE_SIZE,
        concurrency=1,
        preload={"_pre_a": "VALUE = [1]\n", "_pre_b": "import _pre_a\nBOTH = _pre_a.VALUE * 2\n"},
    )
    program = (
        "import os, sys, _pre_b\n"
        "print(_pre_b.BOTH, sys.modules['_pre_a'].__file__, sorted(os.listdir('.')))\n"
        "_pre_b.BOTH.append(9)\n"
        "sys.modules['_pre_a'].VALUE.clear()\n"
    )
    try:
        for _ in range(3):  # what a run does to them stays in its own copy
            r = await sandbox.run(py(program))
            assert r.status is ExecStatus.OK, r
            assert r.stdout == b"[1, 1] /work/_pre_a.py ['main.py']\n"
    finally:
        await sandbox.aclose()


async def test_a_jobs_copy_of_a_preloaded_module_stays_out_of_the_work_dir_unless_it_differs() -> None:
    """Shipped copies (with their bytecode) identical to a preloaded module are not written: it is imported
    already. Any other file stays, a same-named file with other content included."""
    sandbox = open_sandbox(
        "bwrap",
        forkserver=True,
        uid_base=UID_BASE,
        uid_range_size=UID_RANGE_SIZE,
        concurrency=1,
        preload={"_pre_a": "VALUE = 1\n", "_pre_b": "VALUE = 2\n"},
    )
    listing = "import json, os\nprint(json.dumps([sorted(os.listdir('.')), sorted(os.listdir('__pycache__'))]))\n"
    files = {
        "main.py": listing,
        "_pre_a.py": "VALUE = 1\n",
        "__pycache__/_pre_a.cpython-311.pyc": b"bytecode",
        "_pre_b.py": "VALUE = 'a different copy'\n",
        "__pycache__/_pre_b.cpython-311.pyc": b"bytecode",
        "__pycache__/other.cpython-311.pyc": b"bytecode",
    }
    try:
        r = await sandbox.run(Job("python", files))
        assert r.status is ExecStatus.OK, r
        assert json.loads(r.stdout) == [
            ["__pycache__", "_pre_b.py", "main.py"],
            ["_pre_b.cpython-311.pyc", "other.cpython-311.pyc"],
        ]
    finally:
        await sandbox.aclose()
