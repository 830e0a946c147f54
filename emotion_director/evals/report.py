"""Reports: ``report.md`` and a self-contained ``report.html`` (plots embedded as PNG).

Tables give, per system and metric, the mean with a bootstrap 95% confidence interval (2000
resamples of cases, seeded), paired differences against ``mc_agent`` on the same cases, the
diversity metrics per system (averaged over emotions), per-emotion plots, and side-by-side
example rewrites (the cases where ``mc_agent`` aligns best and worst).
"""

from __future__ import annotations

import base64
import html
import io
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from emotion_director.errors import EmotionDirectorError
from emotion_director.evals.runner import read_results

MAIN_METRICS = ("minilm_prob", "minilm_top1", "nrc_score", "subject_similarity",
                "head_noun_retention", "bare_emotion_share", "concreteness", "clip_tokens",
                "over_77")
DIVERSITY = ("distinct_1", "distinct_2", "self_bleu", "embedding_distance")
LOWER_IS_BETTER = {"bare_emotion_share", "clip_tokens", "over_77", "self_bleu"}
REFERENCE = "mc_agent"


def bootstrap_ci(values: list[float], *, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and percentile 95% interval."""
    if not values:
        return float("nan"), float("nan"), float("nan")
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    return sum(values) / n, means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def summarise(rows: list[dict[str, Any]], metrics: Any = None) -> dict[str, Any]:
    ok = [r for r in rows if "metrics" in r]
    by_system: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in ok:
        by_system[row["system"]].append(row)
    table = {
        system: {m: bootstrap_ci([r["metrics"][m] for r in items]) for m in MAIN_METRICS}
        for system, items in by_system.items()
    }
    paired: dict[str, dict[str, tuple[float, float, float]]] = {}
    if REFERENCE in by_system:
        ref = {r["case_id"]: r for r in by_system[REFERENCE]}
        for system, items in by_system.items():
            if system == REFERENCE:
                continue
            common = [(r, ref[r["case_id"]]) for r in items if r["case_id"] in ref]
            paired[system] = {
                m: bootstrap_ci([b["metrics"][m] - a["metrics"][m] for a, b in common])
                for m in MAIN_METRICS
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
    per_emotion: dict[str, dict[str, float]] = defaultdict(dict)
    for system, items in by_system.items():
        groups_m: dict[str, list[float]] = defaultdict(list)
        for r in items:
            groups_m[r["emotion"]].append(r["metrics"]["minilm_prob"])
        for emotion, values in groups_m.items():
            per_emotion[system][emotion] = sum(values) / len(values)
    return {"table": table, "paired": paired, "diversity": diversity,
            "per_emotion": dict(per_emotion), "failed": len(rows) - len(ok),
            "systems": list(by_system), "by_system": by_system}


def _plot(summary: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emotion_director.emotions import Emotion

    emotions = [e.value for e in Emotion]
    systems = summary["systems"]
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / max(len(systems), 1)
    for i, system in enumerate(systems):
        values = [summary["per_emotion"].get(system, {}).get(e, 0.0) for e in emotions]
        ax.bar([x + i * width for x in range(len(emotions))], values, width, label=system)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(emotions))], emotions, rotation=20)
    ax.set_ylabel("MiniLM P(target emotion)")
    ax.set_title("Emotion alignment per target emotion")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _fmt(ci: tuple[float, float, float]) -> str:
    mean, lo, hi = ci
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def _examples(summary: dict[str, Any], k: int = 3) -> list[dict[str, Any]]:
    ref = summary["by_system"].get(REFERENCE) or next(iter(summary["by_system"].values()), [])
    ranked = sorted(ref, key=lambda r: r["metrics"]["minilm_prob"])
    picks = [("worst", r) for r in ranked[:k]] + [("best", r) for r in ranked[-k:][::-1]]
    out = []
    for label, row in picks:
        same = {s: next((r["rewrite"] for r in rows if r["case_id"] == row["case_id"]), "")
                for s, rows in summary["by_system"].items()}
        out.append({"label": label, "case": row["case_id"], "prompt": row["prompt"],
                    "emotion": row["emotion"], "rewrites": same})
    return out


def write_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and ``emotion_alignment.png`` into ``run_dir``."""
    from emotion_director.evals.metrics import TextMetrics

    run = Path(run_dir)
    rows = read_results(run)
    if not rows:
        raise EmotionDirectorError(f"{run}: no results.jsonl rows; run `emotion-director eval run` first.")
    summary = summarise(rows, TextMetrics())
    png = _plot(summary)
    (run / "emotion_alignment.png").write_bytes(png)
    md, page = _markdown(summary), _html(summary, png)
    md, page = _add_media_sections(run, md, page)
    (run / "report.md").write_text(md, encoding="utf-8")
    (run / "report.html").write_text(page, encoding="utf-8")
    return run / "report.md", run / "report.html"


def _add_media_sections(run: Path, md: str, page: str) -> tuple[str, str]:
    """Image metrics with grids (``eval images``) and human win rates (``eval rate``), if any."""
    from emotion_director.evals.rating import rating_sections

    sections = [rating_sections(run)]
    if (run / "images").is_dir():
        from emotion_director.evals.images import image_sections

        sections.insert(0, image_sections(run))
    for section in filter(None, sections):
        md += section[0]
        end = "</body></html>"
        page = (page.replace(end, section[1] + "\n" + end) if end in page
                else page + section[1])
    return md, page


def _markdown(s: dict[str, Any]) -> str:
    lines = ["# Prompt-rewrite eval", "", "Mean [95% bootstrap CI] per system.", "",
             "| system | " + " | ".join(MAIN_METRICS) + " |",
             "|---" * (len(MAIN_METRICS) + 1) + "|"]
    for system, metrics in s["table"].items():
        lines.append(f"| {system} | " + " | ".join(_fmt(metrics[m]) for m in MAIN_METRICS) + " |")
    if s["paired"]:
        lines += ["", f"## Paired difference vs {REFERENCE} (system - {REFERENCE}, same cases)", "",
                  "| system | " + " | ".join(MAIN_METRICS) + " |",
                  "|---" * (len(MAIN_METRICS) + 1) + "|"]
        for system, metrics in s["paired"].items():
            lines.append(f"| {system} | " + " | ".join(_fmt(metrics[m]) for m in MAIN_METRICS) + " |")
    if s["diversity"]:
        lines += ["", "## Diversity (per emotion, averaged)", "",
                  "| system | " + " | ".join(DIVERSITY) + " |", "|---" * (len(DIVERSITY) + 1) + "|"]
        for system, metrics in s["diversity"].items():
            lines.append(f"| {system} | " + " | ".join(f"{metrics[m]:.3f}" for m in DIVERSITY) + " |")
    lines += ["", "![emotion alignment](emotion_alignment.png)", "", "## Examples", ""]
    for ex in _examples(s):
        lines.append(f"**{ex['label']}** `{ex['case']}`: {ex['prompt']} -> {ex['emotion']}")
        lines += [f"- {system}: {text}" for system, text in ex["rewrites"].items()]
        lines.append("")
    if s["failed"]:
        lines.append(f"{s['failed']} item(s) failed; see `error` in results.jsonl.")
    return "\n".join(lines) + "\n"


def _html(s: dict[str, Any], png: bytes) -> str:
    esc = html.escape

    def table(head: list[str], body: list[list[str]]) -> str:
        rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in body)
        return ("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head)
                + f"</tr></thead><tbody>{rows}</tbody></table>")

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Prompt-rewrite eval</title>",
             "<style>body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:"
             "collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:4px 8px}"
             "th{background:#f2f0ff}</style></head><body><h1>Prompt-rewrite eval</h1>",
             "<p>Mean [95% bootstrap CI] per system. Lower is better for: "
             + esc(", ".join(sorted(LOWER_IS_BETTER))) + ".</p>",
             table(["system", *MAIN_METRICS],
                   [[sys, *(_fmt(m[k]) for k in MAIN_METRICS)] for sys, m in s["table"].items()])]
    if s["paired"]:
        parts += [f"<h2>Paired difference vs {REFERENCE}</h2>",
                  table(["system", *MAIN_METRICS],
                        [[sys, *(_fmt(m[k]) for k in MAIN_METRICS)] for sys, m in s["paired"].items()])]
    if s["diversity"]:
        parts += ["<h2>Diversity</h2>",
                  table(["system", *DIVERSITY],
                        [[sys, *(f"{m[k]:.3f}" for k in DIVERSITY)] for sys, m in s["diversity"].items()])]
    encoded = base64.b64encode(png).decode()
    parts.append(f"<h2>Per emotion</h2><img alt='emotion alignment per emotion' "
                 f"src='data:image/png;base64,{encoded}'>")
    parts.append("<h2>Examples</h2>")
    for ex in _examples(s):
        parts.append(f"<h3>{esc(ex['label'])}: {esc(ex['prompt'])} &rarr; {esc(ex['emotion'])}</h3>")
        parts.append(table(["system", "rewrite"], [[k, v] for k, v in ex["rewrites"].items()]))
    parts.append("</body></html>")
    return "\n".join(parts)


def compare_runs(run_a: str | Path, run_b: str | Path) -> str:
    """Markdown: per system in both runs, each metric's mean in A and B and the paired B - A."""
    a_rows = [r for r in read_results(Path(run_a)) if "metrics" in r]
    b_rows = [r for r in read_results(Path(run_b)) if "metrics" in r]
    if not a_rows or not b_rows:
        raise EmotionDirectorError("both runs need results: run `emotion-director eval run` first.")
    lines = [f"# {run_a} vs {run_b}", "", "| system | metric | A | B | B - A [95% CI] |",
             "|---|---|---|---|---|"]
    a_index = {(r["system"], r["case_id"]): r for r in a_rows}
    for system in sorted({r["system"] for r in b_rows} & {r["system"] for r in a_rows}):
        pairs = [(a_index[(system, r["case_id"])], r) for r in b_rows
                 if r["system"] == system and (system, r["case_id"]) in a_index]
        for metric in MAIN_METRICS:
            mean_a = sum(p[0]["metrics"][metric] for p in pairs) / len(pairs)
            mean_b = sum(p[1]["metrics"][metric] for p in pairs) / len(pairs)
            diff = bootstrap_ci([b["metrics"][metric] - a["metrics"][metric] for a, b in pairs])
            lines.append(f"| {system} | {metric} | {mean_a:.3f} | {mean_b:.3f} | {_fmt(diff)} |")
    return "\n".join(lines) + "\n"
