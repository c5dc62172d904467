# mypy: ignore-errors
# (runs inside a session's throwaway copy, as the judge's own uid, on the system Python, stdlib only)
"""The judge side of scoring a session: the runner's test modes against a candidate that is already running.

Started fresh (``python3 -I -B -c BOOT``) by the session keeper in the copy's namespaces as a
uid the session never had, so nothing the session's cells left behind can read its memory,
its fds or the nonce. The candidate is the copy itself, serving on fd 3 (session_candidate.py);
`Attached` stands in for the runner's zygote and hands the runner that one connection.
Tests also see the copy's plain-data variables (assert mode). The one verdict line goes
to the original stdout, as in runner.main.
"""

import json
import os
import sys

#: The python3 -c program that loads the modules sent on stdin and runs `main`.
BOOT = (
    "import json,sys,types\n"
    "d=json.loads(sys.stdin.buffer.read())\n"
    "for n,s in d['modules'].items():\n"
    "    m=types.ModuleType(n);sys.modules[n]=m;exec(compile(s,'<'+n+'>','exec'),m.__dict__)\n"
    "sys.modules['_verifier_session_runner'].main(d['request'])\n"
)
COPY_PID = 2  # the copy is pid 2 of its pid namespace (the keeper checked); we cannot signal it anyway


class Attached:
    """The runner's zygote, for a candidate that exists already: one connection, no restart."""

    def __init__(self, runner):
        self.runner = runner
        self.used = False

    def spawn(self, spec):
        if self.used:
            why = "the session's copy stopped serving (crashed or timed out)"
            raise self.runner.CandidateFault("runtime_error", why)
        self.used = True
        null = [os.open(os.devnull, os.O_RDWR) for _ in range(3)]
        return COPY_PID, [*null, os.dup(3), os.dup(3)]

    def wait_exit(self, pid, deadline):
        return {}


def main(request):
    runner = sys.modules["_verifier_runner"]
    runner.nondumpable()
    runner.kill = lambda pid: None  # the candidate is not ours to kill: the host ends the copy
    verdict_fd = os.dup(1)
    os.dup2(2, 1)  # test code that prints must not reach the verdict channel
    nonce = request.pop("nonce")
    z = Attached(runner)
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
    report = {"nonce": nonce, "results": []}
    try:
        report["results"] = runner.MODES[request["mode"]](z, request)
    except BaseException as exc:
        report["harness_error"] = runner.describe(exc)
    data = (json.dumps(report) + "\n").encode()
    while data:
        data = data[os.write(verdict_fd, data) :]
    os._exit(0)
