"""The code kind's in-sandbox harness (runner.py): the files of a job that runs it, with the modules it imports.

The runner travels with the protocol it speaks (protocol.py) and the sandbox's exit
classification (sandboxes/exits.py), so a candidate process that ends mid-test gets the
word a sandbox run ending the same way would. Scoring a session's end state (live.py)
loads the same modules from their sources instead: the runner's, then session_runner.py
on the judge side and session_candidate.py in the session's copy.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from sandboxes import exits
from verifier_server.kinds.code import protocol
from verifier_server.kinds.sandboxed.shipping import PREFIX, job_files

_HERE = Path(__file__).resolve().parent
#: The runner and the modules it imports, those first (the order a loader without import machinery needs).
MODULES = {
    "protocol": Path(protocol.__file__),
    "exits": Path(exits.__file__),
    "runner": _HERE / "runner.py",
}
#: What a session's judge runs: the runner's modules, then its main for an attached candidate.
SESSION_RUNNER_MODULES = {**MODULES, "session_runner": _HERE / "session_runner.py"}
#: What serves the session copy's namespace (handed to the session runtime's "attach" op).
SESSION_CANDIDATE = _HERE / "session_candidate.py"


def runner_files() -> dict[str, bytes]:
    """main.py (the bootstrap) and every module the runner needs, each with its bytecode."""
    return job_files("runner", MODULES)


@cache
def _source(path: Path) -> str:
    return path.read_text()


def module_sources(modules: dict[str, Path]) -> dict[str, str]:
    """`_verifier_<name>` -> source text, in `modules`' order, for a loader that execs them in turn."""
    return {f"{PREFIX}{name}": _source(path) for name, path in modules.items()}


def session_candidate_source() -> str:
    return _source(SESSION_CANDIDATE)
