"""The code kind's in-sandbox harness (runner.py): the files of a job that runs it, with the modules it imports.

The runner travels with the protocol it speaks (protocol.py) and the sandbox's exit
classification (sandboxes/exits.py), so a candidate process that ends mid-test gets the
word a sandbox run ending the same way would.
"""

from __future__ import annotations

from pathlib import Path

from sandboxes import exits
from verifier_server.kinds.code import protocol
from verifier_server.kinds.sandboxed.shipping import job_files

MODULES = {
    "runner": Path(__file__).with_name("runner.py"),
    "protocol": Path(protocol.__file__),
    "exits": Path(exits.__file__),
}


def runner_files() -> dict[str, bytes]:
    """main.py (the bootstrap) and every module the runner needs, each with its bytecode."""
    return job_files("runner", MODULES)
