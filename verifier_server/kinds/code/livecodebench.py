"""LiveCodeBench's test cases as the dataset stores them (``livecodebench/code_generation_lite``).

A row has ``public_test_cases`` (JSON text: ``[{"input", "output", "testtype"}]``),
``private_test_cases`` (the same JSON, or — in most releases — that JSON text pickled,
zlib-compressed and base64-encoded) and ``metadata`` (JSON text; ``func_name`` for
functional problems). ``testtype`` is ``stdin`` (input on stdin, output compared) or
``functional`` (each input line is one JSON argument of ``Solution().func_name``, the
output is the JSON of the return value), as LiveCodeBench's own runner reads them.

The private tests are untrusted data in a pickle, and unpickling can run code, so they
are decoded without ever calling ``pickle.loads`` on anything but plain data: the
opcodes are listed first (``pickletools``, which executes nothing) and any opcode that
imports or calls is refused; the unpickler then has no globals to give either.
Decompression is bounded, so a small row cannot expand into gigabytes.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import pickletools
import zlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from verifier_server.kinds.code.tests_model import Case, TestsError, TestSuite

MAX_DECODED_BYTES = 256 * 1024 * 1024
PLAIN_OPCODES = frozenset(
    {
        "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT",
        "GET", "BINGET", "LONG_BINGET", "NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2",
        "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE",
        "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
        "EMPTY_LIST", "APPEND", "APPENDS", "LIST", "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
        "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS",
    }
)  # fmt: skip


def livecodebench_suite(reference: Mapping[str, Any]) -> TestSuite:
    """Public then private tests of one row, all stdin or all functional."""
    cases = _cases(reference.get("public_test_cases"), "public_test_cases")
    private = reference.get("private_test_cases")
    if private not in (None, "", "[]"):
        cases += _cases(private, "private_test_cases")
    if not cases:
        raise TestsError("reference.public_test_cases: contains no test cases")
    types = {case.get("testtype", "stdin") for case in cases}
    if types == {"functional"}:
        fn_name = _func_name(reference)
        suite_cases = tuple(_call(case, fn_name, i) for i, case in enumerate(cases))
        return TestSuite("function", suite_cases, fn_name=fn_name)
    if types == {"stdin"}:
        return TestSuite("stdio", tuple(_stdio(case, i) for i, case in enumerate(cases)))
    raise TestsError(f"reference.public_test_cases: mixes test types {sorted(map(str, types))}")


def _cases(value: Any, field: str) -> list[dict[str, Any]]:
    if isinstance(value, str):
        value = decode_test_cases(value, field)
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise TestsError(f"reference.{field}: must be a list of test case objects")
    return list(value)


@lru_cache(maxsize=32)
def decode_test_cases(text: str, field: str) -> Any:
    """JSON text, or base64(zlib(pickle(JSON text))) as the lite releases store private tests.

    Cached: a GRPO group repeats one row's (often megabytes of) tests in every sample."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        compressed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise TestsError(f"reference.{field}: neither JSON nor base64-encoded compressed tests") from None
    decompressor = zlib.decompressobj()
    try:
        raw = decompressor.decompress(compressed, MAX_DECODED_BYTES)
    except zlib.error as exc:
        raise TestsError(f"reference.{field}: not zlib-compressed ({exc})") from None
    if decompressor.unconsumed_tail:
        raise TestsError(f"reference.{field}: decompresses to more than {MAX_DECODED_BYTES} bytes")
    payload = plain_unpickle(raw, field)
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", "replace")
    if not isinstance(payload, str):
        raise TestsError(f"reference.{field}: the pickle holds {type(payload).__name__}, expected JSON text")
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise TestsError(f"reference.{field}: the decoded tests are not JSON ({exc})") from None


def plain_unpickle(raw: bytes, field: str) -> Any:
    """Unpickle data made only of strings, numbers, lists, tuples and dicts; refuse anything else."""
    try:
        for opcode, _arg, _pos in pickletools.genops(raw):
            if opcode.name not in PLAIN_OPCODES:
                raise TestsError(f"reference.{field}: the pickle uses {opcode.name}, which plain test data never does")
        return _NoGlobals(io.BytesIO(raw)).load()
    except TestsError:
        raise
    except Exception as exc:  # a malformed pickle can fail in many ways; none is ours
        raise TestsError(f"reference.{field}: not a readable pickle ({type(exc).__name__}: {exc})") from None


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"global {module}.{name} refused")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids refused")


def _func_name(reference: Mapping[str, Any]) -> str:
    metadata = reference.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata) if metadata.strip() else {}
        except ValueError:
            raise TestsError("reference.metadata: not valid JSON") from None
    name = metadata.get("func_name") if isinstance(metadata, Mapping) else None
    if not isinstance(name, str) or not name:
        raise TestsError("reference.metadata: functional tests need metadata.func_name")
    return name


def _call(case: Mapping[str, Any], fn_name: str, index: int) -> Case:
    where = f"reference test case {index}"
    given, wanted = case.get("input"), case.get("output")
    if not isinstance(given, str) or not isinstance(wanted, str):
        raise TestsError(f"{where}: functional input and output must be JSON text")
    try:
        args = [json.loads(line) for line in given.split("\n") if line.strip()]
        expected = json.loads(wanted)
    except ValueError as exc:
        raise TestsError(f"{where}: functional input or output is not JSON ({exc})") from None
    return Case(args=args, expected=expected, name=f"{fn_name} #{index}")


def _stdio(case: Mapping[str, Any], index: int) -> Case:
    given, wanted = case.get("input"), case.get("output")
    if not isinstance(given, str) or not isinstance(wanted, str):
        raise TestsError(f"reference test case {index}: stdin input and output must be text")
    return Case(stdin=given, expected=wanted, name=f"case {index}")
