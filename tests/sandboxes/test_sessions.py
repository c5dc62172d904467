"""Sessions in the real sandbox (fork server, keeper, kernel): state across cells, limits, forks, isolation.

Every test talks to real sessions: a zygote-forked interpreter under its own uid, cgroup,
namespaces and seccomp filter, forks set up and checked by the root keeper.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sandbox_probe import UID_BASE, UID_RANGE_SIZE, assert_no_survivors

from sandboxes import SandboxError, available_backends, open_sandbox
from sandboxes.sessions import CellStatus, SessionError, SessionHost, SessionLimits, SessionLost

pytestmark = pytest.mark.asyncio(loop_scope="module")
MiB = 1024 * 1024


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def host() -> AsyncIterator[SessionHost]:
    if os.geteuid() != 0:
        pytest.skip("sessions need host root (the fork server)")
    if available_backends()["bwrap"] != "ok":
        pytest.skip("bwrap backend unavailable")
    # This test process's private uid range (sandbox_probe: 64 uids): 4 slots, then 16 session trees.
    box = open_sandbox("bwrap", uid_base=UID_BASE, uid_range_size=UID_RANGE_SIZE, concurrency=4)
    try:
        yield await box.sessions(max_trees=16)
    finally:
        await box.aclose()


async def test_python_cells_keep_variables_imports_files_and_cwd(host: SessionHost) -> None:
    s = await host.open("python", files={"data.txt": b"hello"})
    try:
        r = await s.run("import math\nbase = 40\nprint(open('data.txt').read())\nbase + 2")
        assert (r.status, r.stdout, r.result) == (CellStatus.OK, b"hello\n", "42")
        await s.run("import os\nos.mkdir('sub')\nos.chdir('sub')\nopen('out.txt', 'w').write('x')")
        r = await s.run("print(math.floor(2.5), base, os.getcwd(), open('out.txt').read())")
        assert r.stdout == b"2 40 /work/sub x\n"
        r = await s.run("def f():\n    return undefined_name\nf()")
        assert r.status is CellStatus.ERROR and r.error == "NameError: name 'undefined_name' is not defined"
        assert b'File "<cell 4>", line 2, in f' in r.stderr and b"return undefined_name" in r.stderr
        r = await s.run("base")
        assert r.result == "40" and r.status is CellStatus.OK  # the error kept the state
        r = await s.run("import sys\nsys.exit(3)")
        assert r.status is CellStatus.ERROR and r.error == "SystemExit: 3" and not r.session_lost
        r = await s.run("x = (")
        assert r.status is CellStatus.ERROR and r.error.startswith("SyntaxError")
    finally:
        await s.close()


async def test_python_cells_import_the_packages_offered_to_sandboxed_python(host: SessionHost) -> None:
    from sandboxes._layout import PYTHON_PACKAGES_DIR, python_packages_installed

    if not python_packages_installed():
        pytest.skip("the sandbox packages are not installed here (scripts/install_sandbox_python.py)")
    s = await host.open("python")
    try:
        r = await s.run("import numpy, sympy\nnumpy.__file__, int(numpy.arange(4).sum()), str(sympy.sqrt(8))")
        assert r.status is CellStatus.OK, r
        assert r.result == repr((f"{PYTHON_PACKAGES_DIR}/numpy/__init__.py", 6, "2*sqrt(2)")), r
    finally:
        await s.close()


async def test_bash_cells_keep_directory_variables_and_functions(host: SessionHost) -> None:
    s = await host.open("bash")
    try:
        r = await s.run("mkdir -p d && cd d && export FOO=bar && X=1 && greet() { echo hi $1; }")
        assert r.status is CellStatus.OK
        r = await s.run("pwd; echo $FOO $X; greet you")
        assert r.stdout == b"/work/d\nbar 1\nhi you\n"
        r = await s.run("cd /tmp; unset FOO; false")
        assert r.status is CellStatus.ERROR and r.error == "exit status 1"
        r = await s.run("pwd; echo FOO=$FOO")
        assert r.stdout == b"/tmp\nFOO=\n"
        r = await s.run("cd /work && sleep 30", timeout_s=0.5)
        assert r.status is CellStatus.TIMEOUT and not r.session_lost
        r = await s.run("pwd")
        assert r.stdout == b"/tmp\n"  # the state before the runaway cell
    finally:
        await s.close()


async def test_bash_cells_in_a_python_session_share_its_files(host: SessionHost) -> None:
    s = await host.open("python")
    try:
        await s.run("open('from_python.txt', 'w').write('py')")
        r = await s.run("cat from_python.txt; echo sh > from_bash.txt", language="bash")
        assert r.stdout == b"py"
        assert (await s.run("open('from_bash.txt').read()")).result == "'sh\\n'"
    finally:
        await s.close()


async def test_a_cell_past_its_time_ends_with_timeout_and_keeps_the_state(host: SessionHost) -> None:
    s = await host.open("python")
    try:
        await s.run("kept = 'yes'")
        r = await s.run("while True:\n    pass", timeout_s=0.3)
        assert r.status is CellStatus.TIMEOUT and "wall" in r.error and not r.session_lost
        r = await s.run("import time\ntime.sleep(60)", timeout_s=0.3)
        assert r.status is CellStatus.TIMEOUT and not r.session_lost
        r = await s.run("while True:\n    pass", timeout_s=30, cpu_s=0.3)
        assert r.status is CellStatus.TIMEOUT and "cpu" in r.error and not r.session_lost
        assert (await s.run("kept")).result == "'yes'"
    finally:
        await s.close()


async def test_a_cell_that_refuses_to_stop_is_killed_and_the_session_says_it_is_lost(host: SessionHost) -> None:
    s = await host.open("python")
    stubborn = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
    r = await s.run(stubborn, timeout_s=0.3)
    assert r.status is CellStatus.TIMEOUT and r.session_lost and "state is lost" in r.error
    with pytest.raises(SessionLost):
        await s.run("1")
    await s.close()
    await assert_no_survivors()


async def test_memory_past_the_limit_loses_the_session_and_says_why(host: SessionHost) -> None:
    s = await host.open("python", limits=SessionLimits(memory_bytes=64 * MiB))
    r = await s.run("blocks = []\nwhile True:\n    blocks.append(bytearray(8 * 1024 * 1024))", timeout_s=20)
    assert r.status in (CellStatus.LOST, CellStatus.ERROR), r
    if r.status is CellStatus.LOST:
        assert r.session_lost and "out of memory" in r.error
    else:
        assert r.error.startswith("MemoryError")
    await s.close()


async def test_output_is_capped_per_cell_and_flagged(host: SessionHost) -> None:
    s = await host.open("python", limits=SessionLimits(output_bytes=1000))
    try:
        r = await s.run("print('x' * 5000)")
        assert r.status is CellStatus.OK and r.stdout_truncated and len(r.stdout) == 1000
        r = await s.run("print('small')")
        assert r.stdout == b"small\n" and not r.stdout_truncated
    finally:
        await s.close()


async def test_what_background_processes_print_between_cells_comes_with_the_next_cell(host: SessionHost) -> None:
    s = await host.open("python")
    try:
        r = await s.run("import subprocess\np = subprocess.Popen(['sh', '-c', 'sleep 2; echo later'])\nprint('now')")
        assert r.stdout == b"now\n"
        r = await s.run("p.wait()\nprint('next')")
        assert r.stdout == b"later\nnext\n"
    finally:
        await s.close()


async def test_forks_start_from_the_parent_and_never_see_each_other(host: SessionHost) -> None:
    parent = await host.open("python")
    setup = (
        "import os\nx = 1\nfor d in ('/work', '/tmp', '/dev/shm'):\n"
        "    open(os.path.join(d, 'f'), 'w').write('parent')\n"
        "log = open('/work/log', 'a')"
    )
    assert (await parent.run(setup)).status is CellStatus.OK
    forks = await parent.fork(3)
    try:
        change = (
            "x = {i}\nfor d in ('/work', '/tmp', '/dev/shm'):\n    open(os.path.join(d, 'f'), 'w').write('fork{i}')\n"
            "log.write('fork{i}'); log.flush()"
        )
        for i, fork in enumerate(forks):
            assert (await fork.run(change.format(i=i))).status is CellStatus.OK
        await parent.run("x = 99\nopen('/work/f', 'w').write('later')")
        read = (
            "print(x, [open(os.path.join(d, 'f')).read() for d in ('/work', '/tmp', '/dev/shm')], "
            "open('/work/log').read())"
        )
        for i, fork in enumerate(forks):
            r = await fork.run(read)
            assert r.stdout.decode() == f"{i} {[f'fork{i}'] * 3} fork{i}\n", r
        r = await parent.run(read)
        assert r.stdout.decode() == "99 ['later', 'parent', 'parent'] \n"
    finally:
        for session in (*forks, parent):
            await session.close()


async def test_each_fork_has_its_own_pid_ipc_net_and_uts_namespaces(host: SessionHost) -> None:
    parent = await host.open("python")
    await parent.run("import os, socket, ctypes\nlibc = ctypes.CDLL(None, use_errno=True)")
    a, b = await parent.fork(2)
    try:
        r = await a.run("os.getpid(), sorted(p for p in os.listdir('/proc') if p.isdigit())")
        assert r.result == "(2, ['1', '2'])"  # the reaper, and the copy itself
        # SysV shared memory made in one copy does not exist in the other (IPC namespaces).
        assert (await a.run("libc.shmget(4242, 4096, 0o1000 | 0o600) >= 0")).result == "True"
        assert (await b.run("libc.shmget(4242, 4096, 0o600)")).result == "-1"
        # An abstract unix socket bound in one copy cannot be reached from the other (net namespaces).
        await a.run("srv = socket.socket(socket.AF_UNIX)\nsrv.bind('\\0session-test')\nsrv.listen()")
        r = await b.run("c = socket.socket(socket.AF_UNIX)\nc.connect('\\0session-test')")
        assert r.status is CellStatus.ERROR and "ConnectionRefusedError" in r.error
        r = await parent.run("c = socket.socket(socket.AF_UNIX)\nc.connect('\\0session-test')")
        assert r.status is CellStatus.ERROR and "ConnectionRefusedError" in r.error
    finally:
        for session in (a, b, parent):
            await session.close()


async def test_shared_memory_and_open_files_of_the_parent_become_the_forks_own(host: SessionHost) -> None:
    parent = await host.open("python")
    code = (
        "import mmap, multiprocessing\n"
        "anon = mmap.mmap(-1, 4096)\nanon[:6] = b'parent'\n"
        "shm = open('/dev/shm/seg', 'w+b'); shm.write(b'\\0' * 4096); shm.flush()\n"
        "mapped = mmap.mmap(shm.fileno(), 4096)\nmapped[:6] = b'parent'\n"
        "value = multiprocessing.Value('i', 7)\n"
        "reader = open('/work/data', 'w+'); reader.write('0123456789'); reader.flush(); reader.seek(2)"
    )
    assert (await parent.run(code)).status is CellStatus.OK
    (fork,) = await parent.fork(1)
    try:
        r = await fork.run(
            "anon[:6] = b'forked'; mapped[:6] = b'forked'; value.value = 8\nreader.read(3), reader.tell()"
        )
        assert r.status is CellStatus.OK and r.result == "('234', 5)", r  # same offset, its own copy
        r = await parent.run("bytes(anon[:6]), bytes(mapped[:6]), value.value, reader.tell()")
        assert r.result == "(b'parent', b'parent', 7, 2)", r
    finally:
        await fork.close()
        await parent.close()


async def test_a_fork_outlives_its_parent_and_can_fork_itself(host: SessionHost) -> None:
    parent = await host.open("python")
    await parent.run("depth = 0")
    (child,) = await parent.fork(1)
    await parent.close()
    await child.run("depth += 1")
    (grandchild,) = await child.fork(1)
    await child.close()
    r = await grandchild.run("depth + 1")
    assert r.result == "2"
    await grandchild.close()
    await assert_no_survivors()


async def test_closing_kills_every_process_of_the_session_and_its_forks(host: SessionHost) -> None:
    parent = await host.open("python")
    await parent.run("import subprocess\nkids = [subprocess.Popen(['sleep', '600']) for _ in range(3)]")
    (fork,) = await parent.fork(1)
    await fork.run("import subprocess\nmore = subprocess.Popen(['sh', '-c', 'sleep 600 & sleep 600'])")
    await parent.close()
    await fork.close()
    await assert_no_survivors()


async def test_a_session_cannot_reach_the_host(host: SessionHost) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    s = await host.open("python")
    try:
        probe = f"import socket\nc = socket.socket()\nc.settimeout(1)\nc.connect(('127.0.0.1', {port}))"
        r = await s.run(probe)
        assert r.status is CellStatus.ERROR, r
        (fork,) = await s.fork(1)
        r = await fork.run(probe)
        assert r.status is CellStatus.ERROR, r
        await fork.close()
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
        await s.close()


async def test_namespaces_and_kernel_networking_stay_closed_outside_a_fork(host: SessionHost) -> None:
    s = await host.open("python")
    try:
        await s.run("import ctypes, os, socket\nlibc = ctypes.CDLL(None, use_errno=True)")
        flags = 0x10000000 | 0x00020000 | 0x20000000 | 0x08000000 | 0x40000000 | 0x04000000
        r = await s.run(f"libc.unshare({flags}), ctypes.get_errno()")
        assert r.result == "(-1, 1)"  # the exact flags of a fork: refused, no fork was asked for
        assert (await s.run("libc.unshare(0x10000000), ctypes.get_errno()")).result == "(-1, 1)"
        for family, kind in (("AF_NETLINK", "SOCK_RAW"), ("AF_PACKET", "SOCK_RAW"), ("AF_INET", "SOCK_RAW")):
            r = await s.run(f"socket.socket(socket.{family}, socket.{kind})")
            assert r.status is CellStatus.ERROR and "PermissionError" in r.error, (family, r)
        (fork,) = await s.fork(1)
        r = await fork.run(f"libc.unshare({flags}), ctypes.get_errno(), open('/proc/self/status').read()")
        assert r.result.startswith("(-1, 1, ") and "CapEff:\\t0000000000000000" in r.result
        await fork.close()
    finally:
        await s.close()


async def test_a_session_that_sabotages_its_fork_gets_no_copy(host: SessionHost) -> None:
    s = await host.open("python")
    try:
        sabotage = "import sys\nsys.modules['_session_runtime'].detach_from_parent = lambda *args: None"
        assert (await s.run(sabotage)).status is CellStatus.OK
        with pytest.raises(SessionError, match=r"keeps capabilities|kept what it shares"):
            await s.fork(1)
        assert (await s.run("1 + 1")).result == "2"  # the session itself is fine
    finally:
        await s.close()
    await assert_no_survivors()


async def test_session_uids_are_claimed_exclusively_from_the_sandbox_range(host: SessionHost) -> None:
    """Another sandbox on the same range (another server on this kernel) never gets a uid our sessions
    run as, and cannot claim more than is left; its claims go when it closes."""
    from sandboxes.bwrap import BwrapSandbox

    other = open_sandbox("bwrap", uid_base=UID_BASE, uid_range_size=UID_RANGE_SIZE, concurrency=4)
    assert isinstance(other, BwrapSandbox)
    try:
        assert not set(other.slot_uids()) & set(host.uids)
        with pytest.raises(SandboxError, match=r"only \d+ of the 32 sandbox uids this server needs are free"):
            other.claim_session_uids(16)
        theirs = other.claim_session_uids(4)
        assert len(set(theirs)) == 8 and not set(theirs) & (set(host.uids) | set(other.slot_uids()))
    finally:
        await other.aclose()
    again = open_sandbox("bwrap", uid_base=UID_BASE, uid_range_size=UID_RANGE_SIZE, concurrency=4)
    try:
        assert isinstance(again, BwrapSandbox) and again.claim_session_uids(4) == theirs  # released, lowest first
    finally:
        await again.aclose()


#: A cell that asks its copy of the zygote's C loop (zygote.c, loaded with its symbols global) how many
#: processes it still knows of: a session is a fork of the zygote, which knew the other chains and sessions.
ZYGOTE_STATE_PROBE = "import ctypes\nctypes.CDLL(None).zygote_known_processes()"


async def test_a_session_cannot_read_other_sessions_host_pids_from_the_zygote(host: SessionHost) -> None:
    """A session is a fork of the zygote, like a run: what the zygote knows of other chains and
    sessions (their host pids) is forgotten in every new chain before any cell can look."""
    earlier = [await host.open("python") for _ in range(3)]  # registered while later chains are forked
    s = await host.open("python")
    try:
        r = await s.run(ZYGOTE_STATE_PROBE)
        assert (r.status, r.result) == (CellStatus.OK, "0"), r
    finally:
        for session in [*earlier, s]:
            await session.close()


async def test_a_judge_runs_in_a_throwaway_copy_as_another_uid(host: SessionHost) -> None:
    s = await host.open("python")
    await s.run("secret = 'kept'\nopen('note.txt', 'w').write('from the session')")
    candidate = (
        "import os\ndef serve(namespace, fd, args):\n"
        "    os.write(fd, (namespace['secret'] + ' ' + str(os.getuid()) + '\\n').encode())\n"
        "    namespace['secret'] = 'changed'\n"
        "    os.read(fd, 1)  # serve until the judge is done\n"
    )
    judge = (
        "import os, sys\nline = os.read(3, 100).decode()\n"
        "print(line.strip(), os.getuid(), open('note.txt').read(), sys.stdin.read())"
    )
    try:
        execution = await s.judge(
            candidate_module=candidate,
            candidate_entry="serve",
            candidate_args=None,
            argv=["python3", "-I", "-c", judge],
            stdin=b"stdin-data",
            wall_time_s=30,
            output_bytes=4096,
        )
        assert execution.ok, execution
        session_uid = int((await s.run("import os\nos.getuid()")).result)
        words = execution.stdout.decode().split()
        assert words[:2] == ["kept", str(session_uid)], execution.stdout
        judge_uid = int(words[2])
        assert judge_uid != session_uid and {session_uid, judge_uid} <= set(host.uids)
        assert execution.stdout.decode().endswith("from the session stdin-data\n")
        assert (await s.run("secret")).result == "'kept'"  # the copy changed, the session did not
    finally:
        await s.close()


async def test_a_judge_whose_candidate_cannot_attach_leaves_no_copy_behind(host: SessionHost) -> None:
    """The attach step fails (no such entry): the judge raises, and its throwaway copy is closed all the same,
    so closing the session gives its namespace holder and uids back to the host."""
    s = await host.open("python")
    try:
        with pytest.raises(SessionError, match="no_such_entry"):
            await s.judge(
                candidate_module="x = 1\n",
                candidate_entry="no_such_entry",
                candidate_args=None,
                argv=["python3", "-I", "-c", "pass"],
                stdin=b"",
                wall_time_s=30,
                output_bytes=4096,
            )
        assert len(s.children) == 1 and s.children[0].closed, s.children
    finally:
        await s.close()
    assert s.collected, "the session's holder and uids stay taken by a copy nobody closed"


async def test_a_dead_keeper_is_replaced_before_the_next_fork(host: SessionHost) -> None:
    s = await host.open("python")
    try:
        await s.run("x = 7")
        os.kill(host.keeper._proc.pid, 9)  # the keeper this test module's host started
        host.keeper._proc.wait()
        (fork,) = await s.fork(1)
        assert (await fork.run("x")).result == "7"
        await fork.close()
    finally:
        await s.close()
