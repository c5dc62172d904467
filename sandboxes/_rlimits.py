"""The rlimits of one phase of a run: one policy, from its `Limits` and its language's recipe, for every host backend.

Memory is the cgroup's to bound where there is one; without it RLIMIT_AS stands in, except
for runtimes whose recipe says they reserve far more address space than they use.
"""

from __future__ import annotations

import math
import resource

from ._types import Limits
from .languages import LANGUAGES


def rlimits(
    limits: Limits, language: str, *, cgroup: bool, helpers: int = 2, own_uid: bool = False
) -> list[tuple[int, int]]:
    """(resource, soft limit) pairs; the hard limit equals the soft one (RLIMIT_CPU's is one second more).

    `helpers`: sandbox processes that run under the program's uid and count against RLIMIT_NPROC.
    `own_uid`: runs share the server's uid (unsafe-local), whose other processes RLIMIT_NPROC would count.
    """
    pairs = [
        (resource.RLIMIT_CPU, math.ceil(limits.cpu_time_s)),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_MEMLOCK, 0),
        (resource.RLIMIT_MSGQUEUE, 0),
    ]
    if not own_uid:
        pairs.append((resource.RLIMIT_NPROC, limits.processes + helpers))
    recipe = LANGUAGES.get(language)
    if not cgroup and not (recipe is not None and recipe.reserves_address_space):
        pairs.append((resource.RLIMIT_AS, limits.memory_bytes))
    return pairs


def apply(pairs: list[tuple[int, int]]) -> None:
    """In the child, before exec: set each limit (hard = soft, RLIMIT_CPU one second more so SIGXCPU comes first)."""
    for which, value in pairs:
        resource.setrlimit(which, (value, value + 1 if which == resource.RLIMIT_CPU else value))
