"""The CLI's files: reading rows from JSONL, JSON or Parquet, and writing outputs that are whole or absent.

Every command that writes a file (``score``, ``pairs``, ``report``) writes to a hidden
temporary file beside the output and renames it over the output only when the command
succeeds, so a failed or interrupted run leaves nothing that looks like a result (and an
earlier good output is not clobbered). Writing over an input is refused up front.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

ROW_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet"}
"""Input formats by suffix; any other suffix is read as JSONL."""


class InputFileError(Exception):
    """A file cannot be used as it is (unreadable, malformed, or an output that would overwrite an input)."""


def row_format(path: Path) -> str:
    return ROW_FORMATS.get(path.suffix.lower(), "jsonl")


def read_rows(
    path: Path, skip_invalid: bool, skipped: list[int], *, required: str | None = "completion"
) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL, JSON (a list of objects) or Parquet file.

    A row that is not an object, or lacks ``required`` (the completion field, the one field
    every command needs), raises naming its line (JSONL) or row number, unless
    ``skip_invalid`` records the number in ``skipped`` instead.
    Blank JSONL lines are ignored.
    """
    where = "line" if row_format(path) == "jsonl" else "row"
    for number, row, problem in _raw_rows(path):
        if not problem:
            if not isinstance(row, dict):
                problem = "not a JSON object"
            elif required is not None and required not in row:
                problem = f"has no {required!r} field" + _field_hint(row)
        if problem:
            if not skip_invalid:
                raise InputFileError(f"{path}: {where} {number} is {problem}; use --skip-invalid to skip such {where}s")
            skipped.append(number)
            continue
        yield row


def prompt_key(prompt: Any) -> str:
    """The key rows are grouped by prompt with (chat prompts included), so ``report`` and ``pairs`` group alike."""
    return json.dumps(prompt, sort_keys=True, ensure_ascii=False, default=str)


def _field_hint(row: dict[str, Any]) -> str:
    fields = ", ".join(sorted(map(str, row))[:8])
    return f" (its fields: {fields}; name the right one with --completion-field)" if fields else ""


def _raw_rows(path: Path) -> Iterator[tuple[int, Any, str]]:
    """(number, value, problem) for each row; ``problem`` is non-empty when the row cannot be parsed."""
    fmt = row_format(path)
    if fmt == "parquet":
        yield from _parquet_rows(path)
        return
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        if fmt == "json":
            try:
                data = json.load(handle)
            except (ValueError, UnicodeDecodeError) as exc:
                raise InputFileError(f"{path} is not valid JSON ({exc})") from None
            if not isinstance(data, list):
                raise InputFileError(f"{path} must hold a JSON list of row objects (or use JSONL, one row a line)")
            for number, row in enumerate(data, 1):
                yield number, row, ""
            return
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line), ""
                except ValueError as exc:
                    yield number, None, f"not valid JSON ({exc})"
        except UnicodeDecodeError as exc:
            raise InputFileError(f"{path} is not UTF-8 text ({exc}); is it really JSONL?") from None


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any, str]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputFileError(f"{path}: reading Parquet needs the 'pyarrow' package (pip install pyarrow)") from None
    try:
        parquet = pq.ParquetFile(path)
    except OSError as exc:
        raise InputFileError(f"cannot read {path} as Parquet: {exc}") from None
    number = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            number += 1
            yield number, row, ""


def count_rows(path: Path, skip_invalid: bool, *, required: str | None = "completion") -> tuple[int, list[int]]:
    """Read the whole input once before any work starts: (usable rows, skipped numbers); raises on a bad row."""
    skipped: list[int] = []
    count = sum(1 for _ in read_rows(path, skip_invalid, skipped, required=required))
    return count, skipped


def check_output(output: Path, inputs: Sequence[Path]) -> None:
    """Refuse an output that is one of the inputs (it would be emptied before it is read)."""
    for source in inputs:
        same = output.resolve() == source.resolve()
        with contextlib.suppress(OSError):
            same = same or (output.exists() and os.path.samefile(output, source))
        if same:
            raise InputFileError(f"-o {output} is the input file; write to another file (the input is left as it is)")
    if output.is_dir():
        raise InputFileError(f"-o {output} is a folder; give a file name")


@contextlib.contextmanager
def atomic_output(output: Path, inputs: Sequence[Path] = ()) -> Iterator[TextIO]:
    """A text handle whose content replaces ``output`` only if the block finishes without an exception.

    Missing parent folders are created (and removed again if the run fails and they are empty).
    """
    check_output(output, inputs)
    created = _make_parents(output.parent)
    temporary = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        try:
            handle = temporary.open("w", encoding="utf-8")
        except OSError as exc:
            raise InputFileError(f"cannot write {output}: {exc.strerror or exc}") from None
        with handle:
            yield handle
        os.replace(temporary, output)
    except BaseException:
        temporary.unlink(missing_ok=True)
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, deepest first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFileError(f"cannot create the output folder {folder}: {exc.strerror or exc}") from None
    return missing
