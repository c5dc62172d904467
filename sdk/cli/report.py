"""``verifier report``: one self-contained HTML page about a scored file, charts drawn as inline SVG.

The page answers what a GRPO practitioner asks of a batch of rewards: how scores are
distributed, how many samples failed to score and why, what each child of a composite
contributes, and, per prompt, whether the group's rewards differ at all (GRPO learns
from the spread within a group: a group whose rewards all tie has zero advantage and
teaches nothing). It ends with the worst and best samples.

Nothing is fetched: no scripts, fonts or images from anywhere, and a Content-Security-
Policy that forbids loading any. Every value from the file (completions are model
output) is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdk._columns import RowColumns, read_content
from sdk._errors import InputError
from sdk._types import Outcome, ScoreResult
from sdk.cli._files import InputFileError, atomic_output, prompt_key, read_rows
from sdk.cli.score_file import ScoreSummary, reason_of

OUTCOME_COLORS = {
    "ok": "#54a24b",
    "error": "#e45756",
    "timeout": "#f58518",
    "invalid_input": "#b279a2",
    "not_applicable": "#9d9d9d",
}
SCORE_COLOR = "#4c78a8"
CHILD_COLOR = "#72b7b2"
TIED_COLOR = "#e45756"
SAMPLES_SHOWN = 5
SNIPPET_CHARS = 600


@dataclass
class Group:
    """The scored rows of one prompt."""

    prompt: Any
    scores: list[float] = field(default_factory=list)

    @property
    def spread(self) -> float:
        return max(self.scores) - min(self.scores)


@dataclass
class ReportData:
    """Everything the page shows, computed from the scored rows."""

    source: str
    summary: ScoreSummary
    groups: list[Group]
    ranked: list[dict[str, Any]]
    """Rows scored ok, lowest score first."""
    columns: RowColumns

    @property
    def scored_groups(self) -> list[Group]:
        """Groups with at least two scored rows: the ones GRPO computes an advantage over."""
        return [group for group in self.groups if len(group.scores) >= 2]

    @property
    def tied_groups(self) -> list[Group]:
        return [group for group in self.scored_groups if group.spread == 0]


@dataclass(frozen=True)
class ReportResult:
    output: Path
    rows: int
    prompts: int

    def render(self) -> str:
        return f"wrote {self.output} ({self.rows} rows, {self.prompts} prompts)"


def write_report(
    input_path: Path, output_path: Path, *, columns: RowColumns = RowColumns(), title: str | None = None
) -> ReportResult:
    data = collect(input_path, columns)
    page = render_page(data, title or input_path.name)
    with atomic_output(output_path, [input_path]) as out:
        out.write(page)
    return ReportResult(output_path, data.summary.rows, len(data.groups))


def collect(input_path: Path, columns: RowColumns) -> ReportData:
    summary = ScoreSummary()
    groups: dict[str, Group] = {}
    ranked: list[dict[str, Any]] = []
    for row in read_rows(input_path, skip_invalid=False, skipped=[], required=columns.completion):
        result = _result(row, input_path)
        summary.add(result)
        prompt = row.get(columns.prompt)
        group = groups.setdefault(prompt_key(prompt), Group(prompt))
        if result.score is not None:
            group.scores.append(result.score)
            ranked.append(row)
    if not summary.rows:
        raise InputFileError(f"{input_path} has no rows")
    ranked.sort(key=lambda row: float(row["score"]))
    return ReportData(str(input_path), summary, list(groups.values()), ranked, columns)


def _result(row: dict[str, Any], path: Path) -> ScoreResult:
    try:
        outcome = Outcome(row["outcome"])
    except (KeyError, ValueError):
        raise InputFileError(f"{path} is not a scored file (rows need 'outcome'); run `verifier score` first") from None
    score = row.get("score")
    components = row.get("components") if isinstance(row.get("components"), dict) else {}
    details = row.get("details") if isinstance(row.get("details"), dict) else {}
    return ScoreResult(
        details=details or {},
        score=float(score) if outcome is Outcome.OK and isinstance(score, int | float) else None,
        outcome=outcome,
        reason=str(row.get("reason") or ""),
        components={k: float(v) for k, v in (components or {}).items() if isinstance(v, int | float)},
    )


# -- the page --------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1080px;color:#222;
padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#666}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:8px 28px}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #eee;padding:4px 6px;
text-align:left;vertical-align:top}th{background:#fafafa}pre{white-space:pre-wrap;word-break:break-word;margin:0;
font:12px/1.35 ui-monospace,Menlo,monospace;max-height:14em;overflow:auto}svg text{font:11px system-ui,sans-serif}
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_page(data: ReportData, title: str) -> str:
    summary = data.summary
    sections = [
        f"<h1>{_e(title)}</h1><div class='muted'>{_e(data.source)}</div>",
        _cards(data),
        "<div class='grid'>",
        _section("Score distribution", _score_histogram(summary.scores), "rows scored ok"),
        _section("Outcomes", _outcome_bars(summary), "ok rows carry a score; the others say why not"),
        _section("Reward spread per prompt", _spread_histogram(data), _spread_note(data)),
        _section("Children (composite)", _child_bars(summary), "mean score of each child where it applied")
        if summary.components
        else "",
        "</div>",
        _section("Most common reasons", _reasons_table(summary), "errors, timeouts, invalid inputs and zero scores"),
        _section("Worst samples", _samples_table(data.ranked[:SAMPLES_SHOWN], data.columns), "lowest scores"),
        _section("Best samples", _samples_table(list(reversed(data.ranked[-SAMPLES_SHOWN:])), data.columns), "highest"),
    ]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">"
        f"<meta name='viewport' content='width=device-width'><title>{_e(title)}</title><style>{_CSS}</style>"
        "</head><body>" + "\n".join(part for part in sections if part) + "</body></html>\n"
    )


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _section(heading: str, body: str, note: str = "") -> str:
    note_html = f"<div class='muted'>{_e(note)}</div>" if note else ""
    return f"<section><h2>{_e(heading)}</h2>{note_html}{body}</section>"


def _cards(data: ReportData) -> str:
    summary = data.summary
    mean = f"{statistics.fmean(summary.scores):.3f}" if summary.scores else "–"
    scored = data.scored_groups
    tied = f"{len(data.tied_groups)} / {len(scored)}" if scored else "–"
    cards = [
        ("rows", str(summary.rows)),
        ("scored ok", str(summary.outcomes.get("ok", 0))),
        ("failed to score", str(summary.failed)),
        ("mean score", mean),
        ("prompts", str(len(data.groups))),
        ("tied groups", tied),
    ]
    shown = "".join(f"<div class='card'>{_e(name)}<b>{_e(value)}</b></div>" for name, value in cards)
    return f"<div class='cards'>{shown}</div>"


def _spread_note(data: ReportData) -> str:
    scored = data.scored_groups
    if not scored:
        return "no prompt has two scored rows: nothing to compare"
    tied = len(data.tied_groups)
    return (
        f"max − min reward within each prompt's group; {tied} of {len(scored)} groups "
        f"({100 * tied / len(scored):.0f}%) tie (spread 0, red): GRPO learns nothing from them"
    )


# -- charts (inline SVG) ----------------------------------------------------------------------------


def _bins(values: Sequence[float], count: int = 10) -> tuple[float, float, list[int]]:
    low, high = (0.0, 1.0) if all(0.0 <= v <= 1.0 for v in values) else (min(values), max(values))
    if high == low:
        high = low + 1.0
    width = (high - low) / count
    counts = [0] * count
    for value in values:
        counts[min(max(int((value - low) / width), 0), count - 1)] += 1
    return low, high, counts


def _columns_svg(counts: Sequence[int], colors: Sequence[str], labels: Sequence[str], axis: str) -> str:
    """Vertical bars with a count above each and a label below; 440 x 200."""
    width, height, top, bottom, left = 440, 200, 16, 40, 8
    peak = max(counts) or 1
    slot = (width - 2 * left) / len(counts)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>"]
    parts.append(f"<line x1='{left}' y1='{height - bottom}' x2='{width - left}' y2='{height - bottom}' stroke='#999'/>")
    for i, (count, color, label) in enumerate(zip(counts, colors, labels, strict=True)):
        bar = (height - top - bottom) * count / peak
        x = left + i * slot + 2
        y = height - bottom - bar
        parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{slot - 4:.1f}' height='{bar:.1f}' fill='{color}'/>")
        if count:
            parts.append(f"<text x='{x + (slot - 4) / 2:.1f}' y='{y - 3:.1f}' text-anchor='middle'>{count}</text>")
        parts.append(
            f"<text x='{x + (slot - 4) / 2:.1f}' y='{height - bottom + 13}' text-anchor='middle'>{_e(label)}</text>"
        )
    parts.append(f"<text x='{width / 2}' y='{height - 6}' text-anchor='middle' fill='#666'>{_e(axis)}</text></svg>")
    return "".join(parts)


def _rows_svg(items: Sequence[tuple[str, float, str, str]], scale: float) -> str:
    """Horizontal bars: (label, value, shown text, color); 440 wide."""
    width, row, label_width = 440, 24, 130
    height = row * len(items) + 8
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>"]
    for i, (label, value, text, color) in enumerate(items):
        y = 4 + i * row
        bar = (width - label_width - 70) * (value / scale if scale else 0)
        parts.append(f"<text x='{label_width - 6}' y='{y + 15}' text-anchor='end'>{_e(label[:22])}</text>")
        parts.append(
            f"<rect x='{label_width}' y='{y + 3}' width='{max(bar, 1):.1f}' height='{row - 8}' fill='{color}'/>"
        )
        parts.append(f"<text x='{label_width + bar + 5:.1f}' y='{y + 15}'>{_e(text)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _score_histogram(scores: Sequence[float]) -> str:
    if not scores:
        return "<p>No row was scored ok.</p>"
    low, high, counts = _bins(scores)
    step = (high - low) / len(counts)
    labels = [f"{low + i * step:.1f}" for i in range(len(counts))]
    return _columns_svg(counts, [SCORE_COLOR] * len(counts), labels, f"score ({low:g} to {high:g})")


def _outcome_bars(summary: ScoreSummary) -> str:
    items = [
        (name, float(count), f"{count} ({100 * count / summary.rows:.0f}%)", OUTCOME_COLORS.get(name, "#888"))
        for name, count in sorted(summary.outcomes.items(), key=lambda item: -item[1])
    ]
    return _rows_svg(items, max(count for _, count, _, _ in items))


def _child_bars(summary: ScoreSummary) -> str:
    means = {child: statistics.fmean(values) for child, values in summary.components.items() if values}
    scale = max([1.0, *means.values()])
    items = [(child, mean, f"{mean:.3f}", CHILD_COLOR) for child, mean in sorted(means.items())]
    return _rows_svg(items, scale)


def _spread_histogram(data: ReportData) -> str:
    spreads = [group.spread for group in data.scored_groups]
    if not spreads:
        return ""
    tied = sum(1 for spread in spreads if spread == 0)
    moving = [spread for spread in spreads if spread > 0]
    _, high, counts = _bins(moving, 8) if moving else (0.0, 1.0, [0] * 8)
    step = high / len(counts)
    labels = ["0", *(f"≤{(i + 1) * step:.2g}" for i in range(len(counts)))]
    colors = [TIED_COLOR, *([SCORE_COLOR] * len(counts))]
    return _columns_svg([tied, *counts], colors, labels, "groups by reward spread (max − min)")


# -- tables -----------------------------------------------------------------------------------------


def _reasons_table(summary: ScoreSummary) -> str:
    rows = [
        (group, reason, count) for group, reasons in summary.reasons.items() for reason, count in reasons.most_common(5)
    ]
    if not rows:
        return "<p>Every row was scored, none at zero.</p>"
    rows.sort(key=lambda item: -item[2])
    body = "".join(
        f"<tr><td>{count}</td><td>{_e(group)}</td><td>{_e(reason)}</td></tr>" for group, reason, count in rows[:15]
    )
    return f"<table><tr><th>rows</th><th>outcome</th><th>reason</th></tr>{body}</table>"


def _samples_table(rows: Iterable[dict[str, Any]], columns: RowColumns) -> str:
    body = "".join(
        f"<tr><td>{float(row['score']):.3f}</td><td><pre>{_e(_text(row.get(columns.prompt)))}</pre></td>"
        f"<td><pre>{_e(_text(row.get(columns.completion)))}</pre></td><td>{_e(_row_reason(row))}</td></tr>"
        for row in rows
    )
    if not body:
        return "<p>No row was scored ok.</p>"
    return f"<table><tr><th>score</th><th>prompt</th><th>completion</th><th>reason</th></tr>{body}</table>"


def _row_reason(row: dict[str, Any]) -> str:
    details = row.get("details")
    reason = str(row.get("reason") or "")
    return reason_of(ScoreResult(None, Outcome.OK, reason, details=details if isinstance(details, dict) else {}))


def _text(value: Any) -> str:
    """Text, or chat messages as ``role: content`` lines (read as the SDK sends them); cut to a readable length."""
    try:
        read = read_content(value, "field", 0)
    except InputError:  # neither text nor messages: shown as the JSON it is
        read = json.dumps(value, default=str)
    if isinstance(read, list):
        read = "\n".join(f"{role}: {said}" for role, said in read)
    text = read or ""
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + " …"
