"""The sandbox contract, run against every backend: statuses, limits, I/O, isolation between runs, cancellation."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os

import pytest
from sandbox_probe import assert_no_survivors

from sandboxes import LANGUAGES, ExecStatus, Job, Limits, Sandbox
from sandboxes._layout import PYTHON_PACKAGES_ENV

pytestmark = pytest.mark.asyncio(loop_scope="module")
KiB, MiB = 1024, 1024 * 1024
FAST = Limits(wall_time_s=5.0, cpu_time_s=2.0)


def py(source: str, **kw: object) -> Job:
    return Job("python", {"main.py": source}, **kw)  # type: ignore[arg-type]


async def test_hello(sandbox: Sandbox) -> None:
    r = await sandbox.run(py("print('hello')"))
    assert (r.status, r.exit_code, r.signal, r.stdout, r.stderr) == (ExecStatus.OK, 0, None, b"hello\n", b"")
    assert r.wall_time_s > 0 and r.reason == "" and not r.stdout_truncated
    json.dumps(r.to_dict())


async def test_stdin_roundtrip_binary(sandbox: Sandbox) -> None:
    data = bytes(range(256)) * 1000
    r = await sandbox.run(py("import sys; sys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])", stdin=data))
    assert r.status is ExecStatus.OK and r.stdout == data[::-1]


async def test_str_stdin_and_nested_files_and_entrypoint(sandbox: Sandbox) -> None:
    files = {"app.py": "from pkg.mod import X\nprint(X, input())", "pkg/__init__.py": "", "pkg/mod.py": "X = 41 + 1"}
    r = await sandbox.run(Job("python", files, stdin="line\n", entrypoint="app.py"))
    assert r.status is ExecStatus.OK, r
    assert r.stdout == b"42 line\n"


async def test_nonzero_exit(sandbox: Sandbox) -> None:
    r = await sandbox.run(py("import sys; print('partial'); sys.exit(7)"))
    assert (r.status, r.exit_code, r.stdout) == (ExecStatus.NONZERO_EXIT, 7, b"partial\n")


async def test_exception_is_exit_1_with_traceback(sandbox: Sandbox) -> None:
    r = await sandbox.run(py("raise ValueError('boom')"))
    assert (r.status, r.exit_code) == (ExecStatus.NONZERO_EXIT, 1)
    assert b"ValueError: boom" in r.stderr


async def test_killed_by_signal(sandbox: Sandbox) -> None:
    r = await sandbox.run(py("import os, signal; os.kill(os.getpid(), signal.SIGTERM)"))
    assert r.status is ExecStatus.NONZERO_EXIT and r.signal == 15 and r.exit_code is None


async def test_wall_timeout(sandbox: Sandbox) -> None:
    r = await sandbox.run(py("import time; print('start', flush=True); time.sleep(60)", limits=Limits(wall_time_s=3.0)))
    assert r.status is ExecStatus.TIMEOUT and r.stdout == b"start\n"
    await assert_no_survivors()


async def test_cpu_timeout(sandbox: Sandbox) -> None:
    r = await sandbox.run(py("while True: pass", limits=Limits(wall_time_s=20.0, cpu_time_s=1.0)))
    assert r.status is ExecStatus.TIMEOUT, r
    assert "CPU" in r.reason or "wall" in r.reason


async def test_memory_limit(sandbox: Sandbox) -> None:
    r = await sandbox.run(
        py("x = bytearray(512 * 1024 * 1024); print('allocated')", limits=Limits(memory_bytes=128 * MiB))
    )
    assert r.status is ExecStatus.MEMORY, r
    assert r.stdout == b""


async def test_memory_limit_counts_the_whole_tree(sandbox: Sandbox) -> None:
    source = (
        "import os, time\nfor _ in range(4):\n    if os.fork() == 0:\n        x = bytearray(60 * 1024 * 1024)\n"
        "        time.sleep(2)\n        os._exit(0)\nst = [os.wait()[1] for _ in range(4)]\nprint(st)\n"
        "raise SystemExit(1 if any(st) else 0)"
    )
    r = await sandbox.run(py(source, limits=Limits(memory_bytes=128 * MiB)))
    assert r.status in (ExecStatus.MEMORY, ExecStatus.NONZERO_EXIT), r
    assert r.peak_memory_bytes is None or r.peak_memory_bytes <= 128 * MiB + MiB


async def test_a_higher_memory_limit_after_lower_ones_is_granted(sandbox: Sandbox) -> None:
    """Slots are reused: every slot first runs under a low limit, then each gets a job that needs more."""
    low = Limits(memory_bytes=64 * MiB)
    await asyncio.gather(*(sandbox.run(py("print(1)", limits=low)) for _ in range(8)))
    high = Limits(memory_bytes=512 * MiB, wall_time_s=20)
    results = await asyncio.gather(
        *(sandbox.run(py("x = bytearray(300 * 1024 * 1024); print('allocated')", limits=high)) for _ in range(2))
    )
    assert [(r.status, r.stdout) for r in results] == [(ExecStatus.OK, b"allocated\n")] * 2, results


async def test_stdout_limit_truncates_and_flags(sandbox: Sandbox) -> None:
    r = await sandbox.run(
        py("import sys\nwhile True: sys.stdout.write('y' * 4096)", limits=Limits(output_bytes=64 * KiB))
    )
    assert r.status is ExecStatus.OUTPUT_LIMIT and r.stdout_truncated and not r.stderr_truncated
    assert len(r.stdout) == 64 * KiB and set(r.stdout) == {ord("y")}


async def test_stderr_limit_truncates_and_flags(sandbox: Sandbox) -> None:
    r = await sandbox.run(
        py("import sys\nprint('ok')\nsys.stderr.write('e' * 200_000)", limits=Limits(output_bytes=10 * KiB))
    )
    assert r.status is ExecStatus.OUTPUT_LIMIT and r.stderr_truncated and len(r.stderr) == 10 * KiB


async def test_output_just_under_the_limit_is_ok(sandbox: Sandbox) -> None:
    r = await sandbox.run(py("import sys; sys.stdout.write('z' * 1000)", limits=Limits(output_bytes=1000)))
    assert r.status is ExecStatus.OK and len(r.stdout) == 1000 and not r.stdout_truncated


async def test_process_limit(sandbox: Sandbox) -> None:
    source = (
        "import os, time\nn = 0\ntry:\n    for _ in range(100):\n        if os.fork() == 0:\n"
        "            time.sleep(3); os._exit(0)\n        n += 1\n"
        "except OSError as e:\n    print('refused', e.errno)\nprint(n)"
    )
    r = await sandbox.run(py(source, limits=Limits(processes=16, wall_time_s=10)))
    assert r.status is ExecStatus.OK, r
    assert b"refused" in r.stdout and int(r.stdout.split()[-1]) < 16
    await assert_no_survivors()


async def test_open_files_limit(sandbox: Sandbox) -> None:
    source = (
        "fs = []\ntry:\n    while True: fs.append(open('/dev/null'))\nexcept OSError as e:\n    print(len(fs), e.errno)"
    )
    r = await sandbox.run(py(source, limits=Limits(open_files=32)))
    count, errno_ = map(int, r.stdout.split())
    assert r.status is ExecStatus.OK and count < 32 and errno_ == 24  # EMFILE


async def test_file_size_limit(sandbox: Sandbox) -> None:
    source = "try:\n    open('big', 'wb').write(b'0' * (3 << 20))\nexcept OSError as e:\n    print('EFBIG', e.errno)"
    r = await sandbox.run(py(source, limits=Limits(file_size_bytes=1 * MiB)))
    assert r.status is ExecStatus.OK and r.stdout == b"EFBIG 27\n"


async def test_workdir_size_limit(sandbox: Sandbox) -> None:
    source = (
        "n = 0\ntry:\n    for i in range(64):\n        open(f'f{i}', 'wb').write(b'0' * (1 << 20)); n += 1\n"
        "except OSError as e:\n    print(n, e.errno)"
    )
    r = await sandbox.run(py(source, limits=Limits(workdir_bytes=8 * MiB)))
    n, errno_ = map(int, r.stdout.split())
    assert r.status is ExecStatus.OK and n <= 8 and errno_ == 28  # ENOSPC


async def test_no_network(sandbox: Sandbox) -> None:
    source = (
        "import socket\nfor a in [('1.1.1.1', 53), ('8.8.8.8', 443)]:\n    try:\n"
        "        socket.create_connection(a, timeout=2); print('CONNECTED')\n    except OSError: print('no')\n"
        "try:\n    socket.getaddrinfo('example.com', 80); print('RESOLVED')\nexcept OSError: print('no')"
    )
    r = await sandbox.run(py(source))
    assert r.status is ExecStatus.OK and r.stdout == b"no\nno\nno\n"


async def test_environment_is_minimal(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_CONTRACT_SECRET", "s3cr3t-env")
    r = await sandbox.run(py("import os; print(sorted(os.environ))", env={"EXTRA": "1"}))
    names = set(eval(r.stdout))
    assert "SANDBOX_CONTRACT_SECRET" not in names and "EXTRA" in names and "PATH" in names
    offered = {"PYTHONPATH", *PYTHON_PACKAGES_ENV}  # set by us when the sandbox Python packages are installed
    assert names <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "EXTRA", "HOSTNAME", "PWD", *offered}


async def test_read_only_root_and_no_host_secrets(sandbox: Sandbox) -> None:
    source = (
        "import os\nfor p in ['/usr/x', '/etc/x', '/x']:\n    try: open(p, 'w'); print('WROTE', p)\n"
        "    except OSError: pass\nprint(os.getuid() != 0, os.path.exists('/etc/shadow') and "
        "os.access('/etc/shadow', os.R_OK))"
    )
    r = await sandbox.run(py(source))
    assert r.stdout == b"True False\n"


async def test_no_state_passes_between_runs(sandbox: Sandbox) -> None:
    writer = (
        "import os, subprocess, sys\nopen('/work/left', 'w').write('x'); open('/tmp/left', 'w').write('x')\n"
        "open('/dev/shm/left', 'w').write('x')\n"
        "import json; json.LEAKED = 1; os.environ['LEAKED'] = '1'\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'], start_new_session=True)\n"
        "print('written')"
    )
    reader = (
        "import os, json\nprint(os.listdir('/work'), os.path.exists('/tmp/left'), hasattr(json, 'LEAKED'),\n"
        "      'LEAKED' in os.environ, len([p for p in os.listdir('/proc') if p.isdigit()]) < 4,\n"
        "      os.path.exists('/dev/shm/left'))"
    )
    written = await sandbox.run(py(writer))
    assert written.stdout == b"written\n", written
    await assert_no_survivors()
    r = await sandbox.run(py(reader))
    assert r.stdout == b"['main.py'] False False False True False\n", r


async def test_multiprocessing_works(sandbox: Sandbox) -> None:
    """Pools and locks need POSIX semaphores, which live in a writable /dev/shm."""
    source = (
        "import multiprocessing as mp\ndef sq(x):\n    return x * x\nif __name__ == '__main__':\n"
        "    with mp.Pool(2) as pool:\n        print(pool.map(sq, range(5)))\n"
        "    lock = mp.Lock()\n    with lock:\n        print('locked')\n"
    )
    r = await sandbox.run(py(source, limits=Limits(processes=32, wall_time_s=20.0)))
    assert (r.status, r.stdout) == (ExecStatus.OK, b"[0, 1, 4, 9, 16]\nlocked\n"), r


async def test_concurrent_runs_are_isolated(sandbox: Sandbox) -> None:
    jobs = [
        py(f"import time, os; open('mine', 'w').write('{i}'); time.sleep(0.2); print(open('mine').read())")
        for i in range(8)
    ]
    results = await asyncio.gather(*(sandbox.run(j) for j in jobs))
    assert [r.stdout for r in results] == [f"{i}\n".encode() for i in range(8)]


async def test_cancellation_kills_the_run(sandbox: Sandbox) -> None:
    task = asyncio.ensure_future(
        sandbox.run(py("import os, time\nos.fork()\ntime.sleep(60)", limits=Limits(wall_time_s=60)))
    )
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_no_survivors()
    assert (await sandbox.run(py("print(1)"))).stdout == b"1\n"  # the backend still works


async def test_unknown_language_is_a_sandbox_error(sandbox: Sandbox) -> None:
    r = await sandbox.run(Job("cobol", {"main.cob": ""}))
    assert r.status is ExecStatus.SANDBOX_ERROR and "cobol" in r.reason


async def test_custom_command(sandbox: Sandbox) -> None:
    r = await sandbox.run(
        Job("python", {"t.py": "import sys; print(sys.argv[1:])"}, command=("python3", "t.py", "a", "b"))
    )
    assert r.status is ExecStatus.OK and r.stdout == b"['a', 'b']\n"


#: Every recipe's own self-test, on every backend that has its toolchain: a new language is covered by construction.
SELF_TESTED = sorted(name for name, recipe in LANGUAGES.items() if recipe.hello)
COMPILED = sorted(name for name, recipe in LANGUAGES.items() if recipe.compile)


def hello(language: str, stdin: str = "in\n") -> Job:
    recipe = LANGUAGES[language]
    return Job(
        language, {recipe.default_entrypoint: recipe.hello}, stdin=stdin, limits=Limits(wall_time_s=10, cpu_time_s=5)
    )


@pytest.mark.parametrize("language", SELF_TESTED)
async def test_languages(sandbox: Sandbox, language: str) -> None:
    if language not in sandbox.languages():
        pytest.skip(f"{language} toolchain not available in {sandbox.name}")
    r = await sandbox.run(hello(language))
    assert r.status is ExecStatus.OK, r
    assert r.stdout == f"{language} in\n".encode()


@pytest.mark.parametrize("language", SELF_TESTED)
async def test_run_many_runs_one_program_once_per_input(sandbox: Sandbox, language: str) -> None:
    if language not in sandbox.languages():
        pytest.skip(f"{language} toolchain not available in {sandbox.name}")
    runs = [r async for r in sandbox.run_many(hello(language), ["a\n", b"b\n", "c\n"])]
    assert [(r.status, r.stdout) for r in runs] == [(ExecStatus.OK, f"{language} {w}\n".encode()) for w in "abc"], runs


@pytest.mark.parametrize("language", COMPILED)
async def test_compile_error(sandbox: Sandbox, language: str) -> None:
    if language not in sandbox.languages():
        pytest.skip(f"{language} toolchain not available in {sandbox.name}")
    name = LANGUAGES[language].default_entrypoint
    r = await sandbox.run(Job(language, {name: "this is not a program"}))
    assert r.status is ExecStatus.COMPILE_ERROR and r.exit_code != 0
    assert "error" in r.compile_output.lower() and r.stdout == b""
    many = [e async for e in sandbox.run_many(Job(language, {name: "this is not a program"}), ["1", "2"])]
    assert [e.status for e in many] == [ExecStatus.COMPILE_ERROR]  # the program never ran: one result, the end


async def test_each_run_of_many_starts_from_the_compiled_program(sandbox: Sandbox) -> None:
    """What a run writes, deletes or leaves running never reaches the next run: each gets a fresh work dir,
    /tmp and process tree; the compiled binary is back every time."""
    if "c" not in sandbox.languages():
        pytest.skip("no C toolchain")
    source = (
        "#include <stdio.h>\n#include <unistd.h>\n#include <stdlib.h>\n"
        'int main(void){char m[8]={0}; if(scanf("%7s", m)!=1) return 2;\n'
        ' printf("%d %d\\n", access("left", F_OK)==0, access("/tmp/left", F_OK)==0);\n'
        ' if(m[0]==\'w\'){ fclose(fopen("left","w")); fclose(fopen("/tmp/left","w"));\n'
        '   unlink("main"); unlink("main.c"); if(fork()==0){ setsid(); sleep(30); } }\n'
        " return 0;}\n"
    )
    runs = [r async for r in sandbox.run_many(Job("c", {"main.c": source}), ["write", "read", "read"])]
    assert [(r.status, r.stdout) for r in runs] == [(ExecStatus.OK, b"0 0\n")] * 3, runs
    await assert_no_survivors()


async def test_a_python_program_is_compiled_as_python3_would_compile_it(sandbox: Sandbox) -> None:
    """No `from __future__` of the sandbox's own code reaches the program: annotations are evaluated (an
    undefined name in one fails at definition), in single runs and in runs of many."""
    job = py("def f(x: int) -> None:\n    pass\nprint(f.__annotations__['x'] is int)\ndef g(y: Missing):\n    pass\n")
    for r in [await sandbox.run(job), *[r async for r in sandbox.run_many(job, ["", ""])]]:
        assert (r.status, r.stdout) == (ExecStatus.NONZERO_EXIT, b"True\n"), r
        assert b"NameError: name 'Missing' is not defined" in r.stderr, r


#: Prints the interpreter state a run starts from, then changes all of it and leaves a line half written.
MUTATES_ITS_INTERPRETER = (
    "import os, sys\n"
    "here = os.path.dirname(os.path.abspath(__file__))\n"
    "mine = sorted(k for k in globals() if not k.startswith('__'))\n"
    "print(sys.argv, sys.path[0] == here, __name__, sys.modules['__main__'].__dict__ is globals(), mine,\n"
    "      sys.stdin.read(), sys.stdout is sys.__stdout__)\n"
    "sys.argv.append('more'); sys.path.insert(0, '/nowhere'); sys.modules['__main__'].left = 1\n"
    "sys.stdout = sys.stderr; os.environ['LEFT'] = '1'\n"
    "sys.__stdout__.write('unflushed')\n"
)


async def test_each_python_run_of_many_starts_from_a_fresh_interpreter(sandbox: Sandbox) -> None:
    """A Python run that rewrites argv, sys.path, __main__, its streams and environment leaves none of it to the
    next: each run starts as `python3 main.py` would (what it wrote but never flushed still comes out)."""
    runs = [r async for r in sandbox.run_many(py(MUTATES_ITS_INTERPRETER), ["a", "b"])]
    expected = [f"['main.py'] True __main__ True ['here', 'os', 'sys'] {w} True\nunflushed".encode() for w in "ab"]
    assert [(r.status, r.stdout) for r in runs] == [(ExecStatus.OK, e) for e in expected], runs
    single = await sandbox.run(py(MUTATES_ITS_INTERPRETER, stdin="c"))
    assert (single.status, single.stdout) == (ExecStatus.OK, expected[0].replace(b" a ", b" c ")), single


async def test_a_python_program_that_does_not_compile_fails_every_run_as_python3_would(sandbox: Sandbox) -> None:
    """Each run of many reports the program's SyntaxError as its own (exit 1, the traceback on stderr), as a single
    run does; a program that compiles but rewrites itself still runs as shipped the next time."""
    broken = py("print('never')\ndef f(:\n    pass\n")
    runs = [r async for r in sandbox.run_many(broken, ["", ""])]
    single = await sandbox.run(broken)
    for r in [*runs, single]:
        assert (r.status, r.exit_code, r.stdout) == (ExecStatus.NONZERO_EXIT, 1, b""), r
        assert b"SyntaxError" in r.stderr and b"main.py" in r.stderr, r
    rewrites = py("import sys\nprint('as shipped')\nopen(__file__, 'w').write(\"print('rewritten')\")\n")
    runs = [r async for r in sandbox.run_many(rewrites, ["", ""])]
    assert [(r.status, r.stdout) for r in runs] == [(ExecStatus.OK, b"as shipped\n")] * 2, runs


#: Each input makes one run misbehave; the word after it is what every run prints when it gets that far.
MISBEHAVING = (
    "import os, signal, sys, time\n"
    "what = sys.stdin.read().strip()\n"
    "if what == 'kill':\n"
    "    for p in os.listdir('/proc'):\n"
    "        if p.isdigit() and int(p) != os.getpid():\n"
    "            for sig in (signal.SIGSTOP, signal.SIGKILL):\n"
    "                try:\n"
    "                    os.kill(int(p), sig)\n"
    "                except OSError:\n"
    "                    pass\n"
    "elif what == 'sleep':\n"
    "    time.sleep(60)\n"
    "elif what == 'spin':\n"
    "    while True: pass\n"
    "elif what == 'mess':\n"
    "    os.makedirs('/work/' + '/'.join(['d'] * 1500))\n"
    "    os.makedirs('/tmp/locked/inner'); open('/tmp/locked/inner/f', 'w').close()\n"
    "    os.chmod('/tmp/locked/inner', 0); os.chmod('/tmp/locked', 0)\n"
    "    os.symlink('/work/main.py', '/work/link'); os.mkfifo('/work/fifo')\n"
    "    if os.fork() == 0:\n"
    "        os.setsid(); bytearray(32 << 20); time.sleep(60)\n"
    "elif what == 'ipc':\n"
    "    import ctypes\n"
    "    libc = ctypes.CDLL(None)\n"
    "    made = [libc.msgget(7, 0o1600), libc.shmget(7, 4096, 0o1600), libc.semget(7, 1, 0o1600)]\n"
    "    assert min(made) >= 0, made\n"
    "ipc = sum(len(open('/proc/sysvipc/' + kind).readlines()) - 1 for kind in ('msg', 'shm', 'sem'))\n"
    "print('clean', sorted(os.listdir('.')), os.listdir('/tmp'), ipc)\n"
)


@pytest.mark.parametrize("first", ["kill", "sleep", "spin", "mess", "ipc"])
async def test_what_one_run_does_never_reaches_the_next(sandbox: Sandbox, first: str) -> None:
    """A run that kills or stops every process it can see, outlives its wall time, leaves an unremovable
    mess and a process behind, or leaves System V IPC objects (they outlive processes): the runs after it
    start as the first did."""
    # wall time 10x the CPU limit: a spinning run on a busy machine must still hit its CPU limit first,
    # and the clean runs after a misbehaving one need room to start
    job = py(MISBEHAVING, limits=Limits(wall_time_s=10.0, cpu_time_s=1.0))
    runs = [r async for r in sandbox.run_many(job, [first, "", ""])]
    assert len(runs) == 3 and runs[0].status is not ExecStatus.SANDBOX_ERROR, runs[0]
    assert [(r.status, r.stdout) for r in runs[1:]] == [(ExecStatus.OK, b"clean ['main.py'] [] 0\n")] * 2, runs
    if first in ("sleep", "spin"):
        assert runs[0].status is ExecStatus.TIMEOUT, runs[0]
    if first == "spin":
        assert "CPU" in runs[0].reason, runs[0]  # each run has its own CPU limit
    await assert_no_survivors()


async def test_a_compiled_program_is_what_its_compile_step_left(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bash, compiled by the shell (every backend has one): the compile phase's work dir, execute bits included,
    comes back as the program every run starts from, on backends whose images hold no compiler too."""
    shell_compiled = dataclasses.replace(
        LANGUAGES["bash"], run=("./{stem}.bin",), compile=("sh", "-c", "cp {entry} {stem}.bin && chmod 755 {stem}.bin")
    )
    monkeypatch.setitem(LANGUAGES, "bash", shell_compiled)
    job = Job("bash", {"main.sh": "#!/bin/sh\nread w; echo compiled $w $(ls); rm -f main.bin\n"})
    runs = [r async for r in sandbox.run_many(job, ["a\n", "b\n"])]
    assert [(r.status, r.stdout) for r in runs] == [
        (ExecStatus.OK, f"compiled {w} main.bin main.sh\n".encode()) for w in "ab"
    ], runs


async def test_run_many_stops_when_its_caller_does(sandbox: Sandbox) -> None:
    """A caller that judges each run as it comes may stop after any: nothing is held or left running."""
    slow_echo = py("import sys, time; print(sys.stdin.read()); time.sleep(0.1)")
    runs = sandbox.run_many(slow_echo, [str(i) for i in range(50)])
    seen = []
    async for execution in runs:
        seen.append(execution.stdout)
        if len(seen) == 2:
            break
    await runs.aclose()  # type: ignore[attr-defined]
    assert seen == [b"0\n", b"1\n"]
    await assert_no_survivors()
    assert (await sandbox.run(py("print(1)"))).stdout == b"1\n"


async def test_a_command_the_sandbox_cannot_execute_is_its_own_error(sandbox: Sandbox) -> None:
    r = await sandbox.run(Job("bash", {}, command=("/no/such/program",)))
    assert r.status is ExecStatus.SANDBOX_ERROR and "/no/such/program" in r.reason, r


@pytest.mark.parametrize(
    "source",
    [
        "exit 125",
        "exit 126",
        "exit 127",
        "echo 'bwrap: execvp ./main: No such file or directory' >&2; exit 1",
        "echo 'sandbox: cannot execute main' >&2; exit 127",
        "echo 'OCI runtime exec failed: exec failed' >&2; exit 126",
    ],
)
async def test_a_program_cannot_pass_its_own_exit_off_as_a_sandbox_error(sandbox: Sandbox, source: str) -> None:
    """Whatever it prints and whatever code it exits with, a program that ran ended by itself: its nonzero exit."""
    r = await sandbox.run(Job("bash", {"main.sh": source}))
    assert r.status is ExecStatus.NONZERO_EXIT and r.exit_code == int(source.rsplit(" ", 1)[1]), r


async def test_a_self_inflicted_sigkill_is_a_nonzero_exit(sandbox: Sandbox) -> None:
    """One classification for everything: a SIGKILL without a memory limit hit or a CPU limit is the program's exit."""
    r = await sandbox.run(py("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
    assert (r.status, r.signal) == (ExecStatus.NONZERO_EXIT, 9), r


async def test_compile_limits_apply(sandbox: Sandbox) -> None:
    if "c" not in sandbox.languages():
        pytest.skip("no C toolchain")
    r = await sandbox.run(
        Job("c", {"main.c": "int main(void){return 0;}"}, compile_limits=Limits(wall_time_s=0.001, cpu_time_s=1))
    )
    assert r.status is ExecStatus.COMPILE_ERROR and "wall time" in r.reason


async def test_run_does_not_leave_processes(sandbox: Sandbox) -> None:
    assert os.path.exists("/proc/self")
    await assert_no_survivors()
