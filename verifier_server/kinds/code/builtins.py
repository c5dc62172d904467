"""The ``code`` verifiers every fresh server has: ``python-tests`` and ``stdio-tests``."""

from __future__ import annotations

from typing import Any


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
