"""A user's Python function, run in the sandbox: its source checked in the server without running it, and its job.

The function runs under userfn.py (shipped into the job, stdlib only): the request is JSON on
stdin, the reply one JSON line carrying the run's nonce.
"""

from __future__ import annotations

import ast
from pathlib import Path

from verifier_server.kinds.sandboxed.shipping import job_files

USERFN = Path(__file__).with_name("userfn.py")
#: The file the user's source is written to, next to the host program.
SOURCE_FILE = "user.py"


def defines_function(source: str, name: str) -> str:
    """Why `source` cannot provide `name(...)`, or '' when it can (syntax checked, nothing run)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return f"syntax error at line {exc.lineno}: {exc.msg}"
    return "" if definition(tree, name) is not None else _missing(tree, name)


def definition(tree: ast.Module, name: str) -> ast.FunctionDef | ast.Lambda | ast.AST | None:
    """The last top-level statement binding `name` to something callable-looking (what Python would call)."""
    found: ast.FunctionDef | ast.Lambda | ast.AST | None = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            found = node
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            found = node.value if isinstance(node.value, ast.Lambda) else node
        elif isinstance(node, ast.ImportFrom | ast.Import) and any((a.asname or a.name) == name for a in node.names):
            found = node
    return found


def _missing(tree: ast.Module, name: str) -> str:
    if any(isinstance(node, ast.AsyncFunctionDef) and node.name == name for node in tree.body):
        return f"{name} must be a plain function, not async"
    return f"defines no top-level function {name!r}"


def function_files(source: str) -> dict[str, str | bytes]:
    """A job's files that run the user's `source` under the function host (userfn.py)."""
    return {**job_files("userfn", {"userfn": USERFN}), SOURCE_FILE: source}
