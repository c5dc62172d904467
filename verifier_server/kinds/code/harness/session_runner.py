# mypy: ignore-errors
# (runs inside a session's throwaway copy, as the judge's own uid, on the system Python, stdlib only)
"""The judge side of scoring a session: the runner's test styles against a candidate that is already running.

Started fresh (``python3 -I -B -c BOOT``) by the session keeper in the copy's namespaces as a
uid the session never had, so nothing the session's cells left behind can read its memory,
its fds or the nonce. BOOT loads the runner's modules from stdin (protocol, exits, runner,
this one: harness.SESSION_RUNNER_MODULES) and calls `main` with the request. The candidate
is the copy itself, serving on fd 3 (session_candidate.py); `Attached` stands in for the
runner's zygote and hands the runner that one connection. Tests also see the copy's
plain-data variables (assert style). The report channel is the original stdout, as in
runner.main: one line per test, then the trailer (protocol.TRAILER_KEYS).
"""

import os
import signal
import sys

#: The python3 -c program that loads the modules sent on stdin and runs `main`.
BOOT = (
    "import json,sys,types\n"
    "d=json.loads(sys.stdin.buffer.read())\n"
    "for n,s in d['modules'].items():\n"
    "    m=types.ModuleType(n);sys.modules[n]=m;exec(compile(s,'<'+n+'>','exec',dont_inherit=True),m.__dict__)\n"
    "sys.modules['_verifier_session_runner'].main(d['request'])\n"
)
COPY_PID = 2  # the copy is pid 2 of its pid namespace (the keeper checked); we cannot signal it anyway


class Attached:
    """The runner's Zygote, for a candidate that exists already: one connection, no restart.

    What the runner's styles need of a Zygote: `fault` (None until `failed`), `candidates`
    (1: the candidate has run, so a harness fault after this point may be its doing, see
    runner.blame), `failed(fault)`, `prepare(fresh)` (before a test: what its process needs,
    nothing here), `spawn(spec)` (the pid and the candidate's request, reply and set-up fds) and
    `wait_exit(pid, deadline)`.
    """

    def __init__(self, runner):
        self.runner = runner
        self.used = False
        self.fault = None
        self.candidates = 1

    def failed(self, fault):
        if self.fault is None:
            self.fault = fault
        raise self.fault

    def prepare(self, fresh):
        pass

    def spawn(self, spec):
        if self.fault is not None:
            raise self.fault
        if self.used:
            why = "the session's copy stopped serving (crashed or timed out)"
            raise self.runner.CandidateFault(self.runner.protocol.RUNTIME_ERROR, why)
        self.used = True
        setup_r, setup_w = os.pipe()
        os.close(setup_w)  # the copy was set up before we started: its set-up channel says so (EOF)
        return COPY_PID, [os.dup(3), os.dup(3), setup_r]

    def wait_exit(self, pid, deadline):
        return {}


def trusted_imports_only():
    """Only the sandbox Python's own paths: a module the session wrote (/work, /tmp) must never load in here."""
    sys.path[:] = [p for p in sys.path if p and os.path.isabs(p) and not p.startswith(("/work", "/tmp", "/dev"))]


def main(request):
    runner = sys.modules["_verifier_runner"]
    trusted_imports_only()
    runner.nondumpable()
    runner.kill = lambda pid: None  # the candidate is not ours to kill: the host ends the copy
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    verdict_fd = os.dup(1)
    os.dup2(2, 1)  # test code that prints must not reach the verdict channel
    report = runner.Report(verdict_fd, request.pop("nonce"), int(request.get("report_budget", 64 << 20)))
    request["isolation"] = "shared"  # one candidate, never started again (see Attached)
    build_namespace = runner.test_namespace

    def with_values(remote, names):
        ns = build_namespace(remote, names)
        values = remote.call("__session_values__", (), {})
        if isinstance(values, dict):
            for name, value in values.items():
                if isinstance(name, str) and name.isidentifier() and name not in ns:
                    ns[name] = value
        return ns

    runner.test_namespace = with_values
    report.finish(runner.run(Attached(runner), request, report))
    os._exit(0)
