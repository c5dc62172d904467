# ruff: noqa: UP006, UP035 - runs on the sandbox's Python too (>= 3.9): typing's List/Dict spellings stay
"""The code kind's protocol between the server and its in-sandbox harness, written down once.

Standard library only, Python >= 3.9, no project imports: the server imports this module
as `verifier_server.kinds.code.protocol` and every harness job carries it as
`_verifier_protocol`, so both sides read the same keys, words and value encoding.

Who needs the harness. stdin/stdout tests do not: the sandbox runs the program once per
test (`Sandbox.run_many`) and the server compares each output. The harness is the
trusted party next to the candidate for the styles whose test code must call into it:
`function` (call a named function with arguments), `assert` (HumanEval/MBPP assert code)
and `script` (a test script's test functions and TestCase classes).

Request: one JSON object (`Request`) on the harness's stdin.

Report: on the harness's stdout, one JSON line per test as it finishes (`LINE_KEYS`), then
one trailer line (`TRAILER_KEYS`) carrying the request's nonce and the number of test lines.
Only a trailer with the run's nonce makes the lines before it the harness's word.

Status words of a test line, and what each is in the sandbox's terms (`ExecStatus`):

| word | meaning | sandbox status |
|---|---|---|
| `passed` | the test's checks held (assert, script) | ok |
| `returned` | function: the call returned `value` (encoded); the server judges it | ok |
| `wrong_answer` | an assertion of the test failed | ok |
| `runtime_error` | the candidate raised, exited, or was killed by a signal | nonzero_exit |
| `timeout` | the test's wall or CPU time ran out | timeout |
| `memory` | the candidate ran out of memory (a failed allocation) | memory |
| `output_limit` | a reply too large, or the sample's results passed the report budget | output_limit |

A candidate process that ends mid-test is classified by the sandbox's own rules
(`sandboxes/exits.py`, which the job carries too), so a run and a harness candidate that
end the same way get the same word. The server adds `compile_error` (the sandbox's
compile_error: the program never ran) and `skipped` (not counted after a failure under
`stop_on_failure`). A failure of the harness itself is never a test's word: it is the
trailer's `harness_failed` (the sample's error, score None), the sandbox_error of this
protocol.
"""

from __future__ import annotations

import binascii  # not base64: importing it costs the harness ~0.7 ms of every job
import math
from typing import TYPE_CHECKING, Any, Dict, List

if TYPE_CHECKING:
    from typing import TypedDict

# -- styles the harness runs ---------------------------------------------------------------------------
FUNCTION = "function"
ASSERT = "assert"
SCRIPT = "script"
HARNESS_STYLES = (FUNCTION, ASSERT, SCRIPT)

# -- status words of a test line (see the table above) -------------------------------------------------
PASSED = "passed"
RETURNED = "returned"
WRONG_ANSWER = "wrong_answer"
RUNTIME_ERROR = "runtime_error"
TIMEOUT = "timeout"
MEMORY = "memory"
OUTPUT_LIMIT = "output_limit"
#: Server-side words: the program never ran; a test not counted after a failure.
COMPILE_ERROR = "compile_error"
SKIPPED = "skipped"
#: Every per-test verdict the server reports.
VERDICTS = (PASSED, WRONG_ANSWER, RUNTIME_ERROR, TIMEOUT, MEMORY, OUTPUT_LIMIT, COMPILE_ERROR, SKIPPED)
#: A sandbox status (exits.py's words) -> the verdict of the test it ended. "ok" is judged by the output;
#: "sandbox_error" is never a verdict (it is ours).
FROM_SANDBOX = {
    "nonzero_exit": RUNTIME_ERROR,
    "timeout": TIMEOUT,
    "memory": MEMORY,
    "output_limit": OUTPUT_LIMIT,
    "compile_error": COMPILE_ERROR,
}
#: A Python candidate's exit status after a MemoryError: the evidence exits.classify calls `memory_hit`.
MEMORY_EXIT = 251
#: The candidate's source file in the harness's work dir.
CANDIDATE_FILE = "solution.py"
#: Set to "1" in the harness job's environment, it has the harness fork its zygote (the clean process
#: that forks candidate processes) before it reads the request, as isolation "per_test" needs for every
#: test. Unset, the harness starts one only if a second candidate process is needed (most samples need
#: one), as a fresh interpreter. Not a secret: the candidate may read it.
EAGER_ZYGOTE_ENV = "VERIFIER_EAGER_ZYGOTE"


if TYPE_CHECKING:  # typing's TypedDict compiles every annotation at class creation: ~1 ms of each harness job

    class Limits(TypedDict):
        """Per test: the candidate's time, memory and reply size."""

        wall_time_s: float
        cpu_time_s: float
        memory_bytes: int
        output_bytes: int

    class Request(TypedDict, total=False):
        """The harness's stdin. `names` are extra names the tests may call (HumanEval's entry_point)."""

        nonce: str
        style: str  # FUNCTION | ASSERT | SCRIPT
        limits: Limits
        isolation: str  # "shared": one candidate process for all tests; "per_test": a fresh one for each
        stop_on_failure: bool
        report_budget: int  # bytes of test lines at most; a line past it becomes OUTPUT_LIMIT without its data
        max_tests: int  # a test script defining more is the sample's invalid input
        tests: List[Dict[str, Any]]  # function: {"args": enc(list)}; assert: {"code"} or {"code", "check", ...}
        fn_name: str  # function
        setup: str  # assert: before the tests in the test namespace, after the candidate's code in its own
        script: str  # script
        names: List[str]
        rlimit_as: bool  # bound the candidate's address space (its language does not reserve more than it uses)
        job_wall_s: float  # the whole job's wall time: a test that could outlast it is reported TIMEOUT, not run

else:
    Limits = Request = dict


#: A test line: `name` (script tests), `status` (a word above), `error` (why, for a failure), `value`
#: (function, RETURNED: the encoded return value), `time_s`.
LINE_KEYS = ("name", "status", "error", "value", "time_s")
#: The trailer: `nonce`, `count` (test lines before it), and at most one of `harness_failed` (ours: the
#: sample's error), `harness_error` (the candidate cut the run short: tests not reached fail) and
#: `invalid` (the sample's own tests cannot run here).
TRAILER_KEYS = ("nonce", "count", "harness_failed", "harness_error", "invalid")


# -- the value codec: the only thing that crosses between the candidate and anyone else -----------------


def enc(value: Any, depth: int = 0) -> Any:
    """Tagged plain data. A value whose type subclasses a plain type (Counter, OrderedDict,
    defaultdict, a namedtuple, IntEnum, a str subclass...) is encoded as its plain value,
    read through the plain type's own slots (`int.__int__`, `dict.items`, a full slice):
    none of the subclass's methods runs, so an overridden __eq__/__iter__/__repr__ has no say."""
    if depth > 200:
        raise TypeError("value nested too deeply")
    t = type(value)
    if value is None or t is bool:  # bool cannot be subclassed
        return value
    if issubclass(t, str):
        return str.__str__(value)
    if issubclass(t, int):
        number = int.__int__(value)
        return number if abs(number) < 2**53 else {"$int": str(number)}
    if issubclass(t, float):
        real = float.__float__(value)
        return real if math.isfinite(real) else {"$float": repr(real)}
    if issubclass(t, complex):
        return {"$complex": [complex.real.__get__(value), complex.imag.__get__(value)]}  # type: ignore[attr-defined]
    if issubclass(t, bytes):
        return {"$bytes": binascii.b2a_base64(bytes.__getitem__(value, slice(None)), newline=False).decode()}
    if issubclass(t, list):
        return [enc(v, depth + 1) for v in list.__getitem__(value, slice(None))]
    if issubclass(t, tuple):
        return {"$tuple": [enc(v, depth + 1) for v in tuple.__getitem__(value, slice(None))]}
    if issubclass(t, dict):
        return {"$dict": [[enc(k, depth + 1), enc(v, depth + 1)] for k, v in dict.items(value)]}
    if issubclass(t, frozenset):
        return {"$frozenset": [enc(v, depth + 1) for v in frozenset.__iter__(value)]}
    if issubclass(t, set):
        return {"$set": [enc(v, depth + 1) for v in set.__iter__(value)]}
    raise TypeError(f"unsupported value type {t.__name__} (only plain data crosses the harness boundary)")


def dec(value: Any, depth: int = 0) -> Any:
    """Builds only plain built-in types; anything unexpected raises ValueError."""
    if depth > 200:
        raise ValueError("value nested too deeply")
    t = type(value)
    if value is None or t in (bool, str, int, float):
        return value
    if t is list:
        return [dec(v, depth + 1) for v in value]
    if t is dict and len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$int" and type(inner) is str:
            return int(inner)
        if tag == "$float" and inner in ("inf", "-inf", "nan"):
            return float(inner)
        if tag == "$tuple" and type(inner) is list:
            return tuple(dec(v, depth + 1) for v in inner)
        if tag in ("$set", "$frozenset") and type(inner) is list:
            items = [dec(v, depth + 1) for v in inner]
            return set(items) if tag == "$set" else frozenset(items)
        if tag == "$dict" and type(inner) is list:
            return {dec(k, depth + 1): dec(v, depth + 1) for k, v in (pair for pair in inner if len(pair) == 2)}
        if tag == "$bytes" and type(inner) is str:
            try:
                return binascii.a2b_base64(inner)
            except binascii.Error:
                raise ValueError("malformed bytes from the candidate") from None
        if tag == "$complex" and type(inner) is list and len(inner) == 2:
            return complex(float(inner[0]), float(inner[1]))
    raise ValueError("malformed value from the candidate")
