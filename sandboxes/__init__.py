"""Running untrusted programs under kernel-enforced limits, behind one small async contract.

`open_sandbox()` picks a backend (bubblewrap by default, Docker, or the loudly named
unsafe-local for development); every backend takes a `Job` and returns an `Execution`
(`run`), or runs one program once per input (`run_many`). A language is one `Recipe`.
Concurrent runs share a backend's slots fairly among callers (`as_caller`, an opaque key).
This package knows nothing of rewards, gRPC or test cases.
"""

from ._factory import available_backends, available_languages, open_sandbox
from ._fairness import as_caller
from ._types import DEFAULT_COMPILE_LIMITS, ExecStatus, Execution, Job, Limits, Sandbox, SandboxError
from .languages import LANGUAGES, Recipe

__all__ = [  # noqa: RUF022 - plain sorted(), pinned by tests/sandboxes/test_api.py
    "DEFAULT_COMPILE_LIMITS",
    "ExecStatus",
    "Execution",
    "Job",
    "LANGUAGES",
    "Limits",
    "Recipe",
    "Sandbox",
    "SandboxError",
    "as_caller",
    "available_backends",
    "available_languages",
    "open_sandbox",
]
