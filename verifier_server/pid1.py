"""When the server starts as pid 1, it first becomes a tiny init: the parent reaps, the child serves.

Why: a container's entrypoint (our Dockerfile, Kubernetes) or a fresh pid namespace makes
the server pid 1, and the kernel reparents every orphan to pid 1. Sandboxed runs leave
orphans (a bwrap monitor killed on a timeout before its children finish dying); a server
that never waits for them piles up zombies until the pid limit. This is what tini or
dumb-init do, built in so that `docker run` without `--init` is safe too.
"""

from __future__ import annotations

import os
import signal
from typing import NoReturn

#: Signals the init passes on to the server (SIGTERM starts the drain).
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def become_init_if_pid1() -> None:
    """Return in the process that should serve. As pid 1 that is a forked child; the caller's
    process stays behind as init. Set VERIFIER_NO_INIT=1 to opt out."""
    if os.getpid() != 1 or os.environ.get("VERIFIER_NO_INIT"):
        return
    # Handlers go in before the fork, with the signals blocked until the server's pid is
    # known: a namespace's init ignores any signal it has no handler for (pid_namespaces(7)),
    # so a SIGTERM arriving between the fork and the handlers would be lost.
    target: list[int] = []
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    previous = {sig: signal.signal(sig, lambda signum, _frame: _forward(target, signum)) for sig in FORWARDED}
    server = os.fork()
    if server == 0:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
        return
    target.append(server)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)  # what arrived meanwhile is forwarded now
    _init(server)


def _init(server: int) -> NoReturn:
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == server:  # when pid 1 exits, the kernel kills whatever is left
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


def _forward(target: list[int], signum: int) -> None:
    try:
        os.kill(target[0], signum)
    except ProcessLookupError:
        pass
