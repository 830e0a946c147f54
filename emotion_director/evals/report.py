"""Reports: ``report.md`` and a self-contained ``report.html`` (plots embedded as PNG).

Tables give, per system and metric, the mean with a bootstrap 95% confidence interval (2000
resamples of cases, seeded), emotion alignment raw vs masked, paired differences against
``mc_agent`` on the same cases (``system - mc_agent``), the diversity metrics per system
(averaged over emotions), the LLM judge's win rates when ``eval judge`` was run, per-emotion
plots, side-by-side example rewrites, image metrics with grids (``eval images``) and human win
rates (``eval rate``).

The report is a list of sections (:data:`SECTIONS`): each is a function
``(summary, run_dir) -> ReportSection | None`` that renders one part in Markdown and HTML, or
returns None when it has nothing to show. Add one with :func:`register_report_section`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emotion_director.errors import EvalReportError
from emotion_director.evals.markup import markdown_inline
from emotion_director.evals.tables import (  # noqa: F401 (re-exported: their old home)
    ReportSection,
    bootstrap_ci,
    html_table,
    md_table,
    md_text,
    read_results,
    render_page,
    validate_rows,
)
from emotion_director.files import atomic_write, write_text_atomic

MAIN_METRICS = (
    "minilm_prob",
    "minilm_top1",
    "nrc_score",
    "subject_similarity",
    "head_noun_retention",
    "bare_emotion_share",
    "concreteness",
    "clip_tokens",
    "over_77",
)
ALIGNMENT_METRICS = (
    "minilm_prob",
    "masked_prob",
    "added_prob",
    "minilm_top1",
    "masked_top1",
    "added_top1",
)
PAIRED_METRICS = (*MAIN_METRICS, "masked_prob", "masked_top1", "added_prob", "added_top1")
DIVERSITY = ("distinct_1", "distinct_2", "self_bleu", "embedding_distance")
LOWER_IS_BETTER = {"bare_emotion_share", "clip_tokens", "over_77", "self_bleu"}
REFERENCE = "mc_agent"
CHANCE = 1 / 8

ALIGNMENT_NOTE = (
    "Which to trust: the masked and added columns. Raw alignment (`minilm_prob`) rewards writing "
    'the emotion word itself (`template` tops it by appending "fear mood"), although a diffusion '
    "model draws a plain subject. *Masked* scores the rewrite with every emotion word, synonym "
    "and inflection removed: only what can be drawn counts. *Added* scores only the masked words "
    "the rewrite added to the prompt: what the rewrite contributed, without the subject's own "
    "emotion (identity adds nothing and scores chance). Chance is 0.125 for both P(target) and "
    "top-1. A system that wins raw but sits at chance on masked is using the shortcut."
)


Section = Callable[[dict[str, Any], Path], "ReportSection | None"]


def _values(items: list[dict[str, Any]], metric: str) -> list[float]:
    return [r["metrics"][metric] for r in items if metric in r["metrics"]]


def summarise(rows: list[dict[str, Any]], metrics: Any = None) -> dict[str, Any]:
    ok = [r for r in rows if "metrics" in r]
    by_system: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in ok:
        by_system[row["system"]].append(row)
    table = {
        system: {m: bootstrap_ci(_values(items, m)) for m in (*MAIN_METRICS, *ALIGNMENT_METRICS)}
        for system, items in by_system.items()
    }
    paired: dict[str, dict[str, tuple[float, float, float]]] = {}
    if REFERENCE in by_system:
        ref = {r["case_id"]: r for r in by_system[REFERENCE]}
        for system, items in by_system.items():
            if system == REFERENCE:
                continue
            common = [(r, ref[r["case_id"]]) for r in items if r["case_id"] in ref]
            paired[system] = {  # system - reference: positive means the system scores higher
                m: bootstrap_ci(
                    [
                        own["metrics"][m] - other["metrics"][m]
                        for own, other in common
                        if m in own["metrics"] and m in other["metrics"]
                    ]
                )
                for m in PAIRED_METRICS
            }
    diversity: dict[str, dict[str, float]] = {}
    if metrics is not None:
        for system, items in by_system.items():
            groups: dict[str, list[str]] = defaultdict(list)
            for r in items:
                groups[r["emotion"]].append(r["rewrite"])
            per = [metrics.diversity(texts) for texts in groups.values() if len(texts) > 1]
            if per:
                diversity[system] = {k: sum(p[k] for p in per) / len(per) for k in DIVERSITY}
    per_emotion: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for system, items in by_system.items():
        for metric in ("minilm_prob", "masked_prob"):
            groups_m: dict[str, list[float]] = defaultdict(list)
            for r in items:
                if metric in r["metrics"]:
                    groups_m[r["emotion"]].append(r["metrics"][metric])
            for emotion, values in groups_m.items():
                per_emotion[metric][system][emotion] = sum(values) / len(values)
    return {
        "table": table,
        "paired": paired,
        "diversity": diversity,
        "per_emotion": {k: dict(v) for k, v in per_emotion.items()},
        "failed": len(rows) - len(ok),
        "systems": list(by_system),
        "by_system": by_system,
    }


def per_emotion_series(
    summary: dict[str, Any], metric: str = "minilm_prob"
) -> dict[str, list[float]]:
    """Per system, the mean of ``metric`` for each of the 8 emotions; NaN where there is no data
    (a bar of height 0 would read as "scored zero")."""
    from emotion_director.emotions import Emotion

    data = summary["per_emotion"].get(metric, {})
    return {
        system: [data.get(system, {}).get(e.value, float("nan")) for e in Emotion]
        for system in summary["systems"]
    }


def _plot(summary: dict[str, Any], comment: str = "") -> bytes:
    try:
        import matplotlib
    except ModuleNotFoundError as exc:  # (a broken install is not a missing one: it propagates)
        if exc.name != "matplotlib":
            raise
        from emotion_director.errors import MissingExtraError
        from emotion_director.evals.metrics import INSTALL_HINT

        raise MissingExtraError(f"the report's plot needs matplotlib: {INSTALL_HINT}") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emotion_director.emotions import Emotion

    emotions = [e.value for e in Emotion]
    systems = summary["systems"]
    metrics = [m for m in ("minilm_prob", "masked_prob") if summary["per_emotion"].get(m)]
    fig, axes = plt.subplots(
        len(metrics) or 1, 1, figsize=(10, 3.6 * max(len(metrics), 1)), squeeze=False
    )
    width = 0.8 / max(len(systems), 1)
    for ax, metric in zip(axes[:, 0], metrics or ["minilm_prob"]):
        series = per_emotion_series(summary, metric)
        for i, system in enumerate(systems):
            xs = [x + i * width for x in range(len(emotions))]
            ax.bar(xs, series[system], width, label=system)  # NaN bars are not drawn
        ax.axhline(CHANCE, color="grey", linestyle=":", linewidth=1)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(emotions))], emotions, rotation=20)
        label = "masked" if metric == "masked_prob" else "raw"
        ax.set_ylabel(f"P(target), {label}")
        ax.set_title(
            f"Emotion alignment per target emotion ({label}; dotted: chance; no bar: no data)"
        )
        ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Comment": comment})
    plt.close(fig)
    return buffer.getvalue()


def _fmt(ci: tuple[float, float, float]) -> str:
    mean, lo, hi = ci
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def table_section(title: str, note: str, head: list[str], body: list[list[str]]) -> ReportSection:
    """A titled table with a note, in both formats (for sections that are one table)."""
    md = (
        f"## {title}\n\n{note}\n\n{md_table(head, body)}\n"
        if note
        else f"## {title}\n\n{md_table(head, body)}\n"
    )
    page = f"<h2>{html.escape(title)}</h2>" + (f"<p>{markdown_inline(note)}</p>" if note else "")
    return ReportSection(md, page + html_table(head, body))


def section_header(s: dict[str, Any], run: Path) -> ReportSection:
    """What was run: backend, model, personas, dataset, systems, date and version."""
    from emotion_director.evals.identity import read_run_meta

    meta = read_run_meta(run) or {}
    identity = meta.get("identity") if isinstance(meta.get("identity"), dict) else {}
    dataset = identity.get("dataset") if isinstance(identity.get("dataset"), dict) else {}
    personas = identity.get("personas")
    rows = [
        ("backend", identity.get("backend")),
        ("model", identity.get("model")),
        ("server", identity.get("base_url")),
        ("personas", ", ".join(map(str, personas)) if isinstance(personas, list) else None),
        (
            "dataset",
            (
                f"{dataset.get('source') or 'builtin'} ({dataset.get('cases')} cases, "
                f"hash {dataset.get('hash')})"
            )
            if dataset
            else None,
        ),
        ("systems", ", ".join(sorted(s["by_system"]))),
        ("seed", identity.get("seed")),
        ("run created", meta.get("created")),
        ("report written", time.strftime("%Y-%m-%d %H:%M:%S %z")),
        ("emotion-director", identity.get("package_version")),
        ("run folder", str(run)),
    ]
    shown = [(k, str(v)) for k, v in rows if v not in (None, "", [])]
    md = "\n".join(f"- **{k}**: {md_text(v)}" for k, v in shown) + "\n"
    page = (
        "<table class='header'><tbody>"
        + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in shown)
        + "</tbody></table>"
    )
    return ReportSection(md, page)


def section_overview(s: dict[str, Any], run: Path) -> ReportSection:
    body = [[sys, *(_fmt(m[k]) for k in MAIN_METRICS)] for sys, m in s["table"].items()]
    note = (
        "Mean [95% bootstrap CI] per system. Lower is better for: "
        + ", ".join(sorted(LOWER_IS_BETTER))
        + "."
    )
    return table_section("Metrics", note, ["system", *MAIN_METRICS], body)


def section_alignment(s: dict[str, Any], run: Path) -> ReportSection | None:
    if not any(not math.isnan(m["masked_prob"][0]) for m in s["table"].values()):
        return None
    body = [[sys, *(_fmt(m[k]) for k in ALIGNMENT_METRICS)] for sys, m in s["table"].items()]
    return table_section(
        "Emotion alignment: raw vs masked", ALIGNMENT_NOTE, ["system", *ALIGNMENT_METRICS], body
    )


def section_paired(s: dict[str, Any], run: Path) -> ReportSection | None:
    if not s["paired"]:
        return None
    body = [[sys, *(_fmt(m[k]) for k in PAIRED_METRICS)] for sys, m in s["paired"].items()]
    return table_section(
        f"Paired difference vs {REFERENCE} (system - {REFERENCE}, same cases)",
        f"Positive: the system scores higher than {REFERENCE} on the same cases.",
        ["system", *PAIRED_METRICS],
        body,
    )


def section_diversity(s: dict[str, Any], run: Path) -> ReportSection | None:
    if not s["diversity"]:
        return None
    body = [[sys, *(f"{m[k]:.3f}" for k in DIVERSITY)] for sys, m in s["diversity"].items()]
    return table_section("Diversity (per emotion, averaged)", "", ["system", *DIVERSITY], body)


def section_judge(s: dict[str, Any], run: Path) -> ReportSection | None:
    from emotion_director.evals.judge import judge_section

    return judge_section(run)


def _plot_key(summary: dict[str, Any]) -> str:
    """What the plot shows, hashed: the same key draws the same picture."""
    data = {m: per_emotion_series(summary, m) for m in ("minilm_prob", "masked_prob")}
    shown = json.dumps([summary["systems"], data], sort_keys=True, default=repr)
    return hashlib.sha256(f"{PLOT_VERSION}\n{shown}".encode()).hexdigest()


#: Bumped when the plot's drawing changes, so that a kept plot is redrawn.
PLOT_VERSION = 1


def _png_comment(png: bytes) -> str | None:
    """The ``Comment`` text chunk of a PNG file, if it has one (Pillow comes with matplotlib)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(png)) as image:
            comment = image.info.get("Comment")
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return comment if isinstance(comment, str) else None


def section_per_emotion(s: dict[str, Any], run: Path) -> ReportSection:
    # matplotlib's import and drawing are most of a report's cost: a plot of the same data is
    # kept (its key is in the PNG's Comment chunk)
    path, key = run / "emotion_alignment.png", _plot_key(s)
    kept = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
    if kept and _png_comment(kept) == key:
        png = kept
    else:
        png = _plot(s, comment=key)
        atomic_write(path, lambda tmp: tmp.write_bytes(png), what="report plot")
    encoded = base64.b64encode(png).decode()
    return ReportSection(
        "## Per emotion\n\n![emotion alignment](emotion_alignment.png)\n",
        "<h2>Per emotion</h2><img alt='emotion alignment per emotion' "
        f"src='data:image/png;base64,{encoded}'>",
    )


def _examples(summary: dict[str, Any], k: int = 3) -> list[dict[str, Any]]:
    ref = summary["by_system"].get(REFERENCE) or next(iter(summary["by_system"].values()), [])
    key = "masked_prob" if all("masked_prob" in r["metrics"] for r in ref) else "minilm_prob"
    ranked = sorted(ref, key=lambda r: r["metrics"].get(key, 0.0))
    picks = [("worst", r) for r in ranked[:k]] + [("best", r) for r in ranked[-k:][::-1]]
    out = []
    for label, row in picks:
        same = {
            s: next((r["rewrite"] for r in rows if r["case_id"] == row["case_id"]), "")
            for s, rows in summary["by_system"].items()
        }
        out.append(
            {
                "label": label,
                "case": row["case_id"],
                "prompt": row["prompt"],
                "emotion": row["emotion"],
                "rewrites": same,
            }
        )
    return out


def section_examples(s: dict[str, Any], run: Path) -> ReportSection:
    esc = html.escape
    md = ["## Examples", ""]
    page = ["<h2>Examples</h2>"]
    for ex in _examples(s):
        case = " ".join(str(ex["case"]).split()).replace("`", "'")  # (a code span: no HTML)
        md.append(f"**{ex['label']}** `{case}`: {md_text(ex['prompt'])} -> {ex['emotion']}")
        md += [f"- {md_text(system)}: {md_text(text)}" for system, text in ex["rewrites"].items()]
        md.append("")
        page.append(f"<h3>{esc(ex['label'])}: {esc(ex['prompt'])} &rarr; {esc(ex['emotion'])}</h3>")
        page.append(html_table(["system", "rewrite"], [[k, v] for k, v in ex["rewrites"].items()]))
    return ReportSection("\n".join(md), "\n".join(page))


def section_failed(s: dict[str, Any], run: Path) -> ReportSection | None:
    if not s["failed"]:
        return None
    text = f"{s['failed']} item(s) failed; see `error` in results.jsonl."
    return ReportSection(text + "\n", f"<p>{markdown_inline(text)}</p>")


def section_images(s: dict[str, Any], run: Path) -> ReportSection | None:
    """Image metrics with grids (``eval images``), when the run has images."""
    if not (run / "images").is_dir():
        return None
    from emotion_director.evals.images import image_sections

    part = image_sections(run)
    return ReportSection(*part) if part else None


def section_ratings(s: dict[str, Any], run: Path) -> ReportSection | None:
    """Human win rates (``eval rate``), when someone has rated."""
    from emotion_director.evals.rating import rating_sections

    part = rating_sections(run)
    return ReportSection(*part) if part else None


#: The report, top to bottom. Each section renders itself or returns None.
SECTIONS: list[Section] = [
    section_header,
    section_overview,
    section_alignment,
    section_paired,
    section_diversity,
    section_judge,
    section_per_emotion,
    section_examples,
    section_images,
    section_ratings,
    section_failed,
]


def register_report_section(section: Section, *, before: Section | None = None) -> None:
    """Add ``section`` to every report (at the end, or before ``before``); idempotent."""
    if section in SECTIONS:
        return
    SECTIONS.insert(SECTIONS.index(before) if before in SECTIONS else len(SECTIONS), section)


def write_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and ``emotion_alignment.png`` into ``run_dir``."""
    from emotion_director.evals.metrics import VECTORS_FILE, TextMetrics

    run = Path(run_dir)
    rows = validate_rows(read_results(run), str(run / "results.jsonl"))
    if not rows:
        raise EvalReportError(
            f"{run}: no results.jsonl rows; run `emotion-director eval run` first."
        )
    metrics = TextMetrics()
    metrics.load_vectors(run / VECTORS_FILE)  # scored at `eval run`: MiniLM loads only if needed
    summary = summarise(rows, metrics)
    sections = [part for section in SECTIONS if (part := section(summary, run)) is not None]
    md = "# Prompt-rewrite eval\n\n" + "\n".join(p.markdown for p in sections)
    page = render_page("report/page.html", title="Prompt-rewrite eval", sections=sections)
    # regenerated on each report (overwrite), through a temporary file and a rename: a symlink
    # planted at report.html is refused, not followed
    for name, text in (("report.md", md), ("report.html", page)):
        write_text_atomic(run / name, text, what=f"eval {name}", error=EvalReportError)
    return run / "report.md", run / "report.html"


def compare_runs(run_a: str | Path, run_b: str | Path) -> str:
    """Markdown: per system in both runs, each metric's mean in A and B and the paired B - A.

    Differences between the runs' identities (model, personas, dataset...) are listed first.

    Raises:
        EvalReportError: a run has no results, the runs share no case id, or one case id means
            different cases in the two runs (another dataset).
    """
    from emotion_director.evals.identity import identity_differences, read_run_meta

    a_rows = [
        r
        for r in validate_rows(read_results(Path(run_a)), f"{run_a}/results.jsonl")
        if "metrics" in r
    ]
    b_rows = [
        r
        for r in validate_rows(read_results(Path(run_b)), f"{run_b}/results.jsonl")
        if "metrics" in r
    ]
    if not a_rows or not b_rows:
        raise EvalReportError("both runs need results: run `emotion-director eval run` first.")
    a_cases: dict[str, set[tuple[str, str]]] = defaultdict(set)
    b_cases: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for rows, cases in ((a_rows, a_cases), (b_rows, b_cases)):
        for r in rows:
            cases[r["case_id"]].add((r["prompt"], r["emotion"]))
    common = a_cases.keys() & b_cases.keys()
    if not common:
        raise EvalReportError(
            f"{run_a} and {run_b} have no case id in common: run both on the "
            "same dataset (--dataset) to compare them."
        )
    clash = sorted(c for c in common if a_cases[c] != b_cases[c])
    if clash:
        raise EvalReportError(
            f"case '{clash[0]}' is {sorted(a_cases[clash[0]])} in {run_a} but "
            f"{sorted(b_cases[clash[0]])} in "
            f"{run_b} ({len(clash)} such case(s)): the runs used different datasets; rerun one."
        )
    lines = [f"# {run_a} vs {run_b}", ""]
    differences = identity_differences(read_run_meta(run_a), read_run_meta(run_b))
    if differences:
        lines += ["Settings that differ:", "", *(f"- {d}" for d in differences), ""]
    if len(common) < max(len(a_cases), len(b_cases)):
        lines += [
            f"Warning: compared on the {len(common)} case(s) both runs have "
            f"(A has {len(a_cases)}, B has {len(b_cases)}).",
            "",
        ]
    lines += ["| system | metric | A | B | B - A [95% CI] |", "|---|---|---|---|---|"]
    a_index = {(r["system"], r["case_id"]): r for r in a_rows}
    systems = sorted({r["system"] for r in b_rows} & {r["system"] for r in a_rows})
    if not systems:
        raise EvalReportError(
            f"{run_a} and {run_b} have no system in common: run the same --systems in both."
        )
    for system in systems:
        pairs = [
            (a_index[(system, r["case_id"])], r)
            for r in b_rows
            if r["system"] == system and (system, r["case_id"]) in a_index
        ]
        for metric in PAIRED_METRICS:
            both = [(a, b) for a, b in pairs if metric in a["metrics"] and metric in b["metrics"]]
            if not both:
                continue
            mean_a = sum(a["metrics"][metric] for a, _ in both) / len(both)
            mean_b = sum(b["metrics"][metric] for _, b in both) / len(both)
            diff = bootstrap_ci([b["metrics"][metric] - a["metrics"][metric] for a, b in both])
            lines.append(f"| {system} | {metric} | {mean_a:.3f} | {mean_b:.3f} | {_fmt(diff)} |")
    return "\n".join(lines) + "\n"


def _register_scene_section() -> None:
    from emotion_director.evals.scene_metrics import section_scene

    register_report_section(section_scene, before=section_per_emotion)


_register_scene_section()
