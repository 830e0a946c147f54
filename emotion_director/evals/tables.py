"""The pieces every report section is built from: result rows checked, bootstrap intervals,
tables in Markdown and HTML, and the section type itself.

They live apart from :mod:`emotion_director.evals.report` so that the modules that add report
sections (judge, images, rating, scene metrics) import them without importing the report, which
imports those modules in turn.
"""

from __future__ import annotations

import functools
import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emotion_director.errors import EvalReportError, RunFolderError
from emotion_director.files import read_run_jsonl


@dataclass(kw_only=True)
class Tally:
    """What a resumable batch did: items done now, skipped (done by an earlier run), failed;
    model-cache hits and misses; its wall time."""

    done: int
    skipped: int
    failed: int
    cache_hits: int
    cache_misses: int
    seconds: float


@dataclass
class ReportSection:
    """One part of the report, rendered both ways."""

    markdown: str
    html: str


@functools.cache
def _templates() -> Any:
    """The report's and the rating page's jinja2 templates (``evals/templates/``), with
    autoescaping on: a value a page shows is escaped unless its template says otherwise."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("emotion_director.evals", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def render_page(name: str, **values: Any) -> str:
    """The template ``name`` (e.g. ``"rating/pair.html"``) filled with ``values``."""
    return _templates().get_template(name).render(**values)


def template_source(name: str) -> str:
    """A template file's text as it is (a stylesheet or a script)."""
    return _templates().loader.get_source(_templates(), name)[0]


def bootstrap_ci(
    values: list[float], *, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean and percentile 95% interval (the resamples drawn at once, in numpy)."""
    if not values:
        return float("nan"), float("nan"), float("nan")
    import numpy as np

    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    # in chunks, so that memory stays at ~200 x n values however many resamples are drawn
    means = np.sort(
        np.concatenate(
            [
                data[rng.integers(0, len(data), size=(min(200, resamples - done), len(data)))].mean(
                    axis=1
                )
                for done in range(0, resamples, 200)
            ]
        )
    )
    low, high = means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]
    return float(data.mean()), float(low), float(high)


def read_results(out_dir: Path) -> list[dict[str, Any]]:
    """One record per (system, case): its success if it has one, else its latest error.

    results.jsonl is append-only: a failed item is redone on the next run and its new record
    appended, so the file can hold an error and then the success for one item.
    """
    path = Path(out_dir) / "results.jsonl"
    if not path.is_file():
        if path.exists():  # a folder or a FIFO there would fail or hang the first append
            raise RunFolderError(
                f"{path}: not a regular file (a folder, device or pipe); "
                "remove it or pass a new run folder."
            )
        return []
    rows: list[Any] = []
    where: dict[tuple[Any, Any], int] = {}
    for _, row in read_run_jsonl(  # a line cut by a crash mid-write: that item is simply redone
        path, what="results file", item="result record", error=RunFolderError
    ):
        key: tuple[Any, Any] | None = (row.get("system"), row.get("case_id"))
        if not all(isinstance(k, (str, type(None))) for k in key or ()):
            key = None  # not a result record; validate_rows names the line
        if key is None or key == (None, None):
            rows.append(row)
        elif key not in where:
            where[key] = len(rows)
            rows.append(row)
        elif "error" in rows[where[key]] or "error" not in row:
            rows[where[key]] = row
    return rows


def validate_rows(rows: list[Any], source: str) -> list[dict[str, Any]]:
    """The rows, checked: every row an object with its keys, every metric a finite number.

    Raises:
        EvalReportError: names the row, the system, the case and the bad value.
    """
    fix = "fix or delete that line of results.jsonl (the item is then redone by `eval run`)"
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not all(
            isinstance(row.get(k), str) for k in ("system", "case_id", "emotion")
        ):
            raise EvalReportError(
                f"{source} row {number} is not a result record "
                f"(needs system, case_id, emotion): {fix}."
            )
        if "metrics" not in row:  # a failed item: it has an error instead
            continue
        metrics = row["metrics"]
        if not isinstance(metrics, dict):
            raise EvalReportError(f"{source} row {number}: 'metrics' is not an object: {fix}.")
        for name, value in metrics.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise EvalReportError(
                    f"{source} row {number} ({row['system']}, case {row['case_id']}): metric "
                    f"'{name}' is {str(value)[:40]!r}, not a number: {fix}."
                )
        if not isinstance(row.get("rewrite"), str) or not isinstance(row.get("prompt"), str):
            raise EvalReportError(
                f"{source} row {number}: 'prompt' or 'rewrite' is not text: {fix}."
            )
    return rows


def md_text(text: str) -> str:
    """``text`` from a run (a prompt, a rewrite, a system's name) as plain text in a Markdown
    document: HTML in it shows as text in any viewer (``report.md`` kept a dataset's
    ``<script>`` raw), no link or image is made of it, and a pipe or a line break cannot end its
    table cell or list item."""
    plain = html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")
    # no link or image made ("![x](http://...)", "[click](javascript:...)"): a bracket
    # closed right before a parenthesis is escaped; "[0.41, 0.62]" stays as it is
    return plain.replace("](", "]\\(")


def md_table(head: list[str], body: list[list[str]]) -> str:
    """A Markdown table; the body's cells are a run's text (:func:`md_text`)."""
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def html_table(head: list[str], body: list[list[str]]) -> str:
    esc = html.escape
    rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in body)
    return (
        "<table><thead><tr>"
        + "".join(f"<th>{esc(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{rows}</tbody></table>"
    )
