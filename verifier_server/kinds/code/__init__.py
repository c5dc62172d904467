"""The ``code`` verifier kind: run model-written programs against tests in the sandbox.

``builtin_specs()`` gives the built-ins every server ships: ``python-tests`` (assert-style
Python, HumanEval/MBPP shapes) and ``stdio-tests`` (stdin/stdout cases; Python unless the
completion's fence names another language).
"""

from __future__ import annotations

from verifier_server.kinds.code.builtins import builtin_specs
from verifier_server.kinds.code.kind import CodeKind, CodeVerifier

__all__ = ["CodeKind", "CodeVerifier", "builtin_specs"]
