"""Dataset columns to samples: which columns are the reference, how prompts, completions and messages are read.

Every batch reaches the SDK in some framework's shape, and every shape is read here, so the
rules are the same whichever door a batch comes through:

- keyword columns, one list per column (TRL, ms-swift): ``ColumnReferences`` takes the columns
  a reward names, or every column that is not one of the trainer's own keywords; a column is
  sent when it holds one JSON value per sample, and any other is left out with one warning;
- one gold value per sample (verl's ``ground_truth``, OpenRLHF's label): ``answer_reference``;
- rows of a file (``verifier score``): ``RowColumns``, the completion and prompt fields, every
  other field the reference;
- text or chat messages (``[{"role": ..., "content": ...}]``): ``read_content``; a conversation
  whose last message is the completion: ``conversation_prompt``; a decoded prompt + response
  (OpenRLHF's query): ``protos.openrlhf.response_text``, shared with the server's HTTP face;
- what counts as JSON data (numpy values and tensors converted, sets sorted): ``json_data``.

Each adapter only says which of its framework's arguments is which, and builds ``Samples``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sdk._errors import InputError

log = logging.getLogger(__name__)

NOT_DATA: Final = object()
"""What ``json_data`` answers for a value that is not JSON data (an object, a callable, a handle)."""

RESULT_FIELDS = ("score", "outcome", "reason", "details", "components")
"""Fields ``verifier score`` adds to each row: never a reference when a scored file is scored again."""


@dataclass(frozen=True)
class Samples:
    """One batch as the clients' ``score`` takes it: completions and, per completion, its prompt and reference."""

    completions: Sequence[Any]
    prompts: Sequence[Any] | None = None
    references: Sequence[Mapping[str, Any] | None] | None = None
    completion_ids: Sequence[Sequence[int] | None] | None = None

    def __len__(self) -> int:
        return len(self.completions)

    def arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``client.score`` / ``client.score_stream``."""
        return {
            "completions": self.completions,
            "prompts": self.prompts,
            "references": self.references,
            "completion_ids": self.completion_ids,
        }


# -- JSON data -------------------------------------------------------------------------------


def json_data(value: Any) -> Any:
    """``value`` as JSON data, or ``NOT_DATA``.

    Plain data is returned as it is (checked at C speed). Numpy arrays and scalars and
    tensors become lists and numbers, sets sorted lists; items of a mapping that are not data
    are dropped (framework internals riding along, like a tokenizer in verl's ``extra_info``),
    while a list with such an item is not data as a whole (dropping items would change it).
    """
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, list | tuple | dict):
        try:
            json.dumps(value)
        except (TypeError, ValueError, RecursionError):
            pass
        else:
            return value
    if isinstance(value, Mapping):
        entries = {str(key): json_data(item) for key, item in value.items()}
        return {key: item for key, item in entries.items() if item is not NOT_DATA}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_data(item) for item in value]
        if any(item is NOT_DATA for item in items):
            return NOT_DATA
        return _sorted(items) if isinstance(value, set | frozenset) else items
    if callable(getattr(value, "tolist", None)) and not isinstance(value, bytes | bytearray):
        return json_data(value.tolist())  # numpy arrays and scalars, torch tensors
    return NOT_DATA


def jsonable(value: Any) -> Any:
    """``json.dumps``'s ``default``: numpy values, tensors and sets as JSON data; anything else is a TypeError."""
    data = json_data(value)
    if data is NOT_DATA:
        raise TypeError(f"{type(value).__name__} is not JSON data")
    return data


def _sorted(items: list[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:  # mixed types: keep the set's own order
        return items


# -- references --------------------------------------------------------------------------------


class ColumnReferences:
    """Each sample's reference from keyword columns that hold one value per sample (``{"answer": ["4", "8"]}``).

    ``include`` names the reference columns (an empty selection sends none); None takes every
    column not in ``exclude`` (the trainer's own keywords). A column is sent when it holds one
    JSON value per sample; any other is left out, with one warning per column naming ``owner``
    (a reward function that kept silent would score without the gold answer for a whole run).
    """

    def __init__(self, *, exclude: Collection[str] = (), include: Sequence[str] | None = None, owner: str = "") -> None:
        self.exclude = frozenset(exclude)
        self.include = tuple(include) if include is not None else None
        self.owner = owner
        self._warned: set[str] = set()

    def __call__(self, count: int, columns: Mapping[str, Any]) -> list[dict[str, Any]]:
        names = self.include if self.include is not None else [key for key in columns if key not in self.exclude]
        references: list[dict[str, Any]] = [{} for _ in range(count)]
        for name in names:
            values, problem = _column(columns, name, count)
            if problem:
                self._leave_out(name, problem)
                continue
            for reference, value in zip(references, values, strict=True):
                reference[name] = value
        return references

    def _leave_out(self, name: str, problem: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            log.warning("%s: dataset column %r is not sent as a reference (%s)", self.owner, name, problem)


def _column(columns: Mapping[str, Any], name: str, count: int) -> tuple[list[Any], str]:
    """The column's values as JSON data, or why it cannot be a reference."""
    if name not in columns:
        return [], "not in the batch"
    column = columns[name]
    if not isinstance(column, list | tuple) or len(column) != count:
        return [], "not one value per sample"
    values = [json_data(value) for value in column]
    if any(value is NOT_DATA for value in values):
        return [], "not JSON data"
    return values, ""


def answer_reference(gold: Any) -> dict[str, Any]:
    """A reference from one gold value per sample (verl's ``ground_truth``, OpenRLHF's label).

    A mapping, or a string holding a JSON object, is the reference itself (tests, rubric
    variables); nothing (None, "") is an empty reference; any other JSON value is the
    ``answer``.
    """
    gold = json_data(gold)
    if gold is NOT_DATA or gold is None or gold == "":
        return {}
    if isinstance(gold, str) and gold.lstrip().startswith("{"):
        try:
            parsed = json.loads(gold)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    if isinstance(gold, Mapping):
        return dict(gold)
    return {"answer": gold}


def mapping_data(value: Any) -> dict[str, Any]:
    """A mapping's JSON data without its null items (verl's ``extra_info``); {} for anything else."""
    data = json_data(value) if isinstance(value, Mapping) else None
    return {key: item for key, item in data.items() if item is not None} if isinstance(data, dict) else {}


@dataclass(frozen=True)
class RowColumns:
    """Which fields of a file's rows hold the completion and the prompt.

    Every other field is the row's reference, except ``completion_ids`` (token ids, sent as
    such) and the fields a scored row carries (``RESULT_FIELDS``), so a scored file can be
    scored again as it is.
    """

    completion: str = "completion"
    prompt: str = "prompt"

    def sample_fields(self) -> set[str]:
        return {self.completion, self.prompt, "completion_ids"}

    def samples(self, rows: Iterable[Mapping[str, Any]]) -> Samples:
        rows = list(rows)
        not_reference = self.sample_fields() | set(RESULT_FIELDS)
        return Samples(
            completions=[row.get(self.completion) for row in rows],
            prompts=[row.get(self.prompt) for row in rows],
            references=[{k: v for k, v in row.items() if k not in not_reference} for row in rows],
            completion_ids=[row.get("completion_ids") for row in rows],
        )


# -- prompts, completions and chat messages -----------------------------------------------------

Messages = list[tuple[str, str]]
"""Chat messages as ``(role, text)`` pairs."""


def read_content(value: Any, what: str, index: int) -> str | Messages | None:
    """A prompt or completion: text, chat messages, or None; ``InputError`` naming the sample otherwise."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        try:
            return [(str(message["role"]), message_text(message["content"])) for message in value]
        except (TypeError, KeyError) as exc:
            raise InputError(f"{what}[{index}]: chat messages need 'role' and 'content' ({exc})") from None
    raise InputError(f"{what}[{index}] must be a string or a list of chat messages, got {type(value).__name__}")


def message_text(content: Any) -> str:
    """A message's content as text; multimodal content keeps only its text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    raise TypeError(f"message content must be text, got {type(content).__name__}")


def conversation_prompt(conversation: Any) -> list[Any] | None:
    """The prompt of a conversation whose last message is the completion (ms-swift's ``messages``)."""
    if isinstance(conversation, list | tuple) and conversation:
        return list(conversation[:-1])
    return None
