"""Model-based judges: LLM-as-judge, reward models and embedding similarity.

See ``README.md`` in this package for the spec fields, built-in templates and
backends. Importing this package imports neither torch nor vLLM.
"""

from verifier_server.kinds.judge.backends import available_backends
from verifier_server.kinds.judge.builtins import builtin_specs
from verifier_server.kinds.judge.kind import JudgeKind
from verifier_server.kinds.judge.templates import BUILTIN_TEMPLATES

__all__ = ["BUILTIN_TEMPLATES", "JudgeKind", "available_backends", "builtin_specs"]
