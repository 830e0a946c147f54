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
import random
from dataclasses import dataclass
from typing import Any

from emotion_director.errors import EvalReportError


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
    """Mean and percentile 95% interval."""
    if not values:
        return float("nan"), float("nan"), float("nan")
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    return sum(values) / n, means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


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


def md_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def html_table(head: list[str], body: list[list[str]]) -> str:
    esc = html.escape
    rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in body)
    return (
        "<table><thead><tr>"
        + "".join(f"<th>{esc(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{rows}</tbody></table>"
    )
