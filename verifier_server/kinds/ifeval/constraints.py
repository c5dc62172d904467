"""Reading a sample's instructions from the shapes IFEval-style datasets store them in.

- Google IFEval (``google/IFEval``): ``instruction_id_list`` and ``kwargs`` columns.
- AllenAI's multi-constraint IF data (``IF_multi_constraints_upto5``, read by open-instruct's
  ``IFEvalVerifier``): ``ground_truth`` is the text of a Python list holding one
  ``{"instruction_id": [...], "kwargs": [...]}``.
- AllenAI's Tülu 3 ``RLVR-IFeval``: ``ground_truth`` is JSON text ``{"func_name": ..., args}``
  (``open_instruct``).

``ground_truth`` may also arrive already parsed, under ``answer`` (OpenRLHF passes a
label that is not a JSON object as ``{"answer": label}``), or as the reference itself (a
JSON-object label). Everything here is untrusted: Python literals are read with
``ast.literal_eval`` (literals only, size-capped), and every problem is a
``ConstraintError`` naming the field.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier_server.kinds.ifeval.google import INSTRUCTIONS, Instruction
from verifier_server.kinds.ifeval.open_instruct import FUNCTIONS
from verifier_server.kinds.ifeval.params import ConstraintError

MAX_GROUND_TRUTH_CHARS = 1_000_000
TEXT_FIELDS = ("ground_truth", "answer")


@dataclass(frozen=True, slots=True)
class Constraint:
    """One instruction to check, with its bound arguments."""

    id: str
    instruction: Instruction
    args: dict[str, Any]


def read_constraints(reference: Mapping[str, Any]) -> tuple[str, list[Constraint]]:
    """(format name, constraints) of a sample's reference."""
    if "instruction_id_list" in reference:
        return "ifeval", _ifeval(reference.get("instruction_id_list"), reference.get("kwargs"), "reference")
    parsed, where = _structured(reference)
    if isinstance(parsed, list):
        if len(parsed) != 1:
            raise ConstraintError(f"{where}: expected a list with one constraint object, got {len(parsed)} items")
        parsed, where = parsed[0], f"{where}[0]"
        if isinstance(parsed, str):
            parsed = _parse_text(parsed, where)
    if not isinstance(parsed, Mapping):
        raise ConstraintError(f"{where}: expected a constraint object, got {type(parsed).__name__}")
    if "func_name" in parsed:
        return "open_instruct", [_function(parsed, where)]
    if "instruction_id" in parsed or "instruction_id_list" in parsed:
        ids = parsed.get("instruction_id", parsed.get("instruction_id_list"))
        return "ifeval", _ifeval(ids, parsed.get("kwargs"), where)
    raise ConstraintError(f"{where}: has neither instruction_id(_list) + kwargs nor func_name")


def _structured(reference: Mapping[str, Any]) -> tuple[Any, str]:
    if "func_name" in reference or "instruction_id" in reference:
        return reference, "reference"
    for field in TEXT_FIELDS:
        value = reference.get(field)
        if value is None:
            continue
        where = f"reference.{field}"
        return (_parse_text(value, where) if isinstance(value, str) else value), where
    looked = ", ".join(("instruction_id_list", "func_name", *TEXT_FIELDS))
    raise ConstraintError(f"reference: no instructions found (looked for {looked})")


def _parse_text(value: str, where: str) -> Any:
    """JSON first (RLVR-IFeval), then a Python literal (IF_multi_constraints stores ``repr`` text)."""
    if len(value) > MAX_GROUND_TRUTH_CHARS:
        raise ConstraintError(f"{where}: longer than {MAX_GROUND_TRUTH_CHARS} characters")
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ConstraintError(f"{where}: neither JSON nor a Python literal") from None


def _ifeval(ids: Any, kwargs: Any, where: str) -> list[Constraint]:
    if not isinstance(ids, list | tuple) or not ids or not all(isinstance(i, str) for i in ids):
        raise ConstraintError(f"{where}.instruction_id_list: must be a non-empty list of instruction ids")
    if kwargs is None:
        kwargs = [{}] * len(ids)
    if not isinstance(kwargs, list | tuple) or len(kwargs) != len(ids):
        raise ConstraintError(f"{where}.kwargs: must be a list with one object per instruction ({len(ids)})")
    constraints = []
    for position, (instruction_id, raw) in enumerate(zip(ids, kwargs, strict=True)):
        instruction = INSTRUCTIONS.get(instruction_id)
        if instruction is None:
            raise ConstraintError(
                f"{where}.instruction_id_list[{position}]: unknown instruction {instruction_id!r} "
                f"(known: {', '.join(sorted(INSTRUCTIONS))})"
            )
        constraints.append(_bind(instruction, raw, f"{where}.kwargs[{position}]"))
    return constraints


def _function(constraint: Mapping[str, Any], where: str) -> Constraint:
    name = constraint.get("func_name")
    instruction = FUNCTIONS.get(name) if isinstance(name, str) else None
    if instruction is None:
        raise ConstraintError(f"{where}.func_name: unknown function {name!r} (known: {', '.join(sorted(FUNCTIONS))})")
    return _bind(instruction, {k: v for k, v in constraint.items() if k != "func_name"}, where)


def _bind(instruction: Instruction, raw: Any, where: str) -> Constraint:
    args = instruction.signature.bind(raw, where)
    if instruction.validate is not None:
        instruction.validate(args, where)
    return Constraint(instruction.id, instruction, args)
