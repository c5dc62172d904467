"""The ``code`` verifier kind: run model-written programs against tests in the sandbox.

``builtin_specs()`` gives the built-ins every server ships: ``python-tests`` (assert-style
Python, HumanEval/MBPP shapes) and ``stdio-tests`` (stdin/stdout cases; Python unless the
completion's fence names another language).
"""

from __future__ import annotations

from typing import Any

from verifier_server.kinds.code.kind import CodeKind, CodeVerifier

__all__ = ["CodeKind", "CodeVerifier", "builtin_specs"]


def builtin_specs() -> list[dict[str, Any]]:
    return [
        {
            "name": "python-tests",
            "kind": "code",
            "description": "Python code from the completion against assert-style tests "
            "(reference: test + entry_point, or test_list [+ test_setup_code]); fraction passed",
            "config": {"language": "python", "tests": "assert"},
        },
        {
            "name": "stdio-tests",
            "kind": "code",
            "description": "A program from the completion against stdin/stdout cases (reference: input_output "
            "or tests); language from the fence tag, Python by default; fraction passed",
            "config": {"tests": "stdio", "checker": "whitespace"},
        },
    ]
