"""Reading the test harness's report (protocol.py: per-test lines, then a trailer with the run's nonce).

Run in a worker thread, never on the event loop: a sample's reply can hold up to
``[kinds.code] max_report_bytes`` of program output. It is parsed one line at a time, so
no step holds the interpreter for longer than one test's line takes to decode, and a
line is judged (and its output dropped) before the next is decoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from verifier_server.kinds.sandboxed.access import find_trailer, json_object


class ReportGarbled(Exception):
    """A trailer carrying this run's nonce, around test lines that do not parse: the harness is broken."""


@dataclass(slots=True)
class HarnessReport:
    """What the harness vouched for. `harness_failed` is a failure of ours (no verdict); `harness_error`
    is what cut the run short by the candidate's doing (the tests not reached fail); `invalid` says
    the sample's own tests cannot run here. The test lines are decoded one at a time by `results`,
    so a sample's outputs are never held twice."""

    stdout: bytes = b""
    spans: list[tuple[int, int]] = field(default_factory=list)
    harness_error: str | None = None
    harness_failed: str | None = None
    invalid: str | None = None

    def __len__(self) -> int:
        return len(self.spans)

    def results(self) -> Iterator[dict[str, Any]]:
        """Each test's line; raises ReportGarbled at the first that is not a JSON object."""
        for i, (start, end) in enumerate(self.spans):
            line = json_object(self.stdout[start:end])
            if line is None:
                raise ReportGarbled(f"test line {i} is not a JSON object")
            yield line


def read_harness_report(stdout: bytes, nonce: str) -> HarnessReport | None:
    """None when there is no trailer with this run's nonce (the harness did not finish);
    raises ReportGarbled when the trailer is there but the lines before it are not what it says."""
    found = find_trailer(stdout, nonce)
    if found is None:
        return None
    trailer, cut = found
    spans = []
    start = 0
    while start < cut:
        end = stdout.find(b"\n", start, cut + 1)
        spans.append((start, end))
        start = end + 1
    if trailer.get("count") != len(spans):
        raise ReportGarbled(f"the trailer counts {trailer.get('count')!r} tests, {len(spans)} lines came")
    return HarnessReport(
        stdout=stdout,
        spans=spans,
        harness_error=_text(trailer.get("harness_error")),
        harness_failed=_text(trailer.get("harness_failed")),
        invalid=_text(trailer.get("invalid")),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
