"""Running untrusted programs under kernel-enforced limits, behind one small async contract.

`open_sandbox()` picks a backend (bubblewrap by default, Docker, or the loudly named
unsafe-local for development); every backend takes a `Job` and returns an `Execution`.
This package knows nothing of rewards, gRPC or test cases.
"""

from ._factory import available_backends, open_sandbox
from ._types import DEFAULT_COMPILE_LIMITS, ExecStatus, Execution, Job, Limits, Sandbox, SandboxError
from .languages import LANGUAGES, Recipe

__all__ = [
    "DEFAULT_COMPILE_LIMITS",
    "LANGUAGES",
    "ExecStatus",
    "Execution",
    "Job",
    "Limits",
    "Recipe",
    "Sandbox",
    "SandboxError",
    "available_backends",
    "open_sandbox",
]
