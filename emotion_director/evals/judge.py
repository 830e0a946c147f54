"""LLM-as-judge: pairwise A/B verdicts on a run's rewrites, with the order swapped on every pair.

For every case and every pair of systems the judge sees the two rewrites twice, once in each
order, without system names, and answers with a structured :class:`JudgeVerdict` (``A``, ``B``
or ``tie`` and a short reason) against a rubric: keeps the subject, drawable, evokes the target
emotion, coherent, no contradiction.

* A verdict *survives the swap* when both orders name the same rewrite (or both say tie);
  *position-consistency* is the share of pairs where it does. A judge that mostly picks "the
  first one" has low consistency, and its win rates measure position, not quality: the report
  says so plainly below :data:`TRUST_THRESHOLD`.
* Per pair and case the outcome is the surviving verdict, or a tie when the verdict flips.
  Win rates count a win as 1 and a tie as 0.5, with bootstrap 95% CIs over cases.
* Identical rewrites are a tie without a model call (and are left out of consistency).

Judgments are appended to ``RUN/judgments.jsonl`` as they finish and every call goes through the
SQLite cache (``RUN/judge_cache.sqlite``), so a killed ``eval judge`` resumes where it stopped.
``RUN/judge.json`` records the judge (backend, model, rubric); resuming with another judge is
refused. Any OpenAI-compatible server works (vLLM, OpenAI, llama.cpp's server); requests in
flight are capped by ``--concurrency`` and by ``max_concurrent_requests``, as for the graph.

Example:
    >>> rate, lo, hi = win_rate([1.0, 0.5, 0.0, 1.0])
    >>> round(rate, 3)
    0.625
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from emotion_director.emotions import EMOTIONS, Emotion
from emotion_director.errors import (
    EmotionDirectorError,
    EvalCacheError,
    RunBusyError,
    RunFolderError,
    UserInputError,
)
from emotion_director.evals.identity import (
    RunMismatchError,
    model_name,
    package_version,
    public_url,
    same_value,
)
from emotion_director.evals.markup import markdown_inline
from emotion_director.evals.tables import Tally, read_results
from emotion_director.files import (
    append_jsonl,
    exclusive_lock,
    read_json_file,
    read_run_jsonl,
    write_text_atomic,
)
from emotion_director.settings import Settings

#: Below this position-consistency the report warns that the judge is too weak to trust.
TRUST_THRESHOLD = 0.7

RUBRIC = """You compare two rewrites of an image prompt for a text-to-image model.
The better rewrite:
1. keeps the subject of the original prompt;
2. is drawable: concrete things, light, colour, setting - not bare emotion words;
3. makes the image evoke the target emotion;
4. is coherent, one scene;
5. has no contradiction (nothing that cancels the subject or the emotion).
Judge only the text of the two rewrites; their order means nothing."""


class JudgeVerdict(BaseModel):
    """The judge's answer for one ordered pair."""

    winner: Literal["A", "B", "tie"] = Field(
        description="'A' or 'B' for the better rewrite, 'tie' when neither is better"
    )
    reason: str = Field(default="", description="one short sentence: why")

    @field_validator("reason", mode="before")
    @classmethod
    def _short(cls, value: Any) -> str:
        # small models ramble; a reason is a sentence, kept whole up to a bound
        return str(value or "").strip()[:300]


def judge_messages(prompt: str, emotion: str, first: str, second: str) -> list[tuple[str, str]]:
    definition = EMOTIONS[Emotion(emotion)].definition
    return [
        ("system", RUBRIC + "\nAnswer only with JSON: winner (A, B or tie) and a short reason."),
        (
            "user",
            f"Original prompt: {prompt}\nTarget emotion: {emotion} ({definition})\n\n"
            f"Rewrite A: {first}\n\nRewrite B: {second}\n\n"
            "Which rewrite is the better image prompt for the target emotion?",
        ),
    ]


def rubric_hash() -> str:
    return hashlib.sha256(RUBRIC.encode()).hexdigest()[:12]


@dataclass(kw_only=True)
class JudgeSummary(Tally):
    out_path: Path


def read_judgments(run_dir: str | Path) -> list[dict[str, Any]]:
    """The judgments of a run; for a key judged twice (a failed try redone), the last one."""
    path = Path(run_dir) / "judgments.jsonl"
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for _, row in read_run_jsonl(  # a line cut by a crash mid-write: that judgment is redone
        path, what="judgments file", item="judgment", error=RunFolderError
    ):
        try:
            key = (row["case_id"], row["first"], row["second"])
        except KeyError:
            continue  # not a judgment of this run's format: judged again
        latest[key] = row
    return list(latest.values())


def judge_identity(settings: Settings, backend: str) -> dict[str, Any]:
    return {
        "backend": backend,
        "model": model_name(settings, backend),
        "base_url": public_url(settings.base_url) if backend == "openai" else None,
        "rubric": rubric_hash(),
        "package_version": package_version(),
    }


def _check_judge(run: Path, identity: dict[str, Any]) -> None:
    path = run / "judge.json"
    if path.exists():
        stored = read_json_file(
            path,
            fix=f"delete it and {run}/judgments.jsonl to judge again",
            error=RunMismatchError,
        )
        for key in ("backend", "model", "base_url", "rubric"):
            if key == "base_url" and "base_url" not in stored:
                continue  # (recorded since 2026-12-03)
            if same_value(stored.get(key)) != same_value(identity[key]):
                raise RunMismatchError(
                    f"{run} was judged with {key} {stored.get(key)!r}, this judge has "
                    f"{identity[key]!r}: delete {path} and {run}/judgments.jsonl to judge again "
                    "with another judge."
                )
    write_text_atomic(path, json.dumps(identity, indent=2), what="judge identity")


def plan_pairs(
    rows: list[dict[str, Any]], systems: list[str] | None, limit: int | None = None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every ordered (first, second) pair of rewrites to judge: each pair of systems on each
    case both have, in both orders."""
    ok = [r for r in rows if "metrics" in r or ("rewrite" in r and "error" not in r)]
    present = list(dict.fromkeys(r["system"] for r in ok))
    chosen = systems or present
    missing = [s for s in chosen if s not in present]
    if missing:
        raise UserInputError(
            f"system(s) {', '.join(missing)} have no rewrites in this run; it has "
            f"{', '.join(present) or 'none'}."
        )
    if len(chosen) < 2:
        raise UserInputError(
            "the judge compares systems in pairs: pass at least two (--systems template,mc_agent)."
        )
    index = {(r["system"], r["case_id"]): r for r in ok}
    case_ids = list(dict.fromkeys(r["case_id"] for r in ok))[:limit]
    plan = []
    for case_id in case_ids:
        for a, b in combinations(chosen, 2):
            if (a, case_id) in index and (b, case_id) in index:
                ra, rb = index[(a, case_id)], index[(b, case_id)]
                plan += [(ra, rb), (rb, ra)]
    if not plan:
        raise RunFolderError("no case has rewrites from two of the chosen systems.")
    return plan


async def judge_run(
    run_dir: str | Path,
    systems: list[str] | None = None,
    *,
    settings: Settings | None = None,
    chat_model: Any = None,
    concurrency: int = 4,
    limit: int | None = None,
    cache_path: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> JudgeSummary:
    """Judge every pair of ``systems`` (default: all in the run) on every case, both orders.

    Raises:
        EmotionDirectorError: the run has no results, a system is unknown, or fewer than two.
        RunMismatchError: the run was judged before with another judge (backend, model, server)
            or rubric.
        RunBusyError: another process is judging the same run right now.
    """
    run = Path(run_dir)
    args = (run_dir, systems, settings, chat_model, concurrency, limit, cache_path, progress)
    if not run.is_dir():
        return await _judge(*args)  # (says what is missing)

    def busy(holder: str) -> RunBusyError:
        return RunBusyError(
            f"{run} is being judged by another process{holder} right now: wait for it to finish "
            "(a second judge would judge every pair again)."
        )

    with exclusive_lock(run / ".judge.lock", busy=busy, error=RunFolderError):
        return await _judge(*args)


async def _judge(
    run_dir: str | Path,
    systems: list[str] | None,
    settings: Settings | None,
    chat_model: Any,
    concurrency: int,
    limit: int | None,
    cache_path: str | Path | None,
    progress: Callable[[int, int], None] | None,
) -> JudgeSummary:
    """:func:`judge_run`, its run held by this process."""
    # the model's stack (langchain-core) only where a judge runs: `eval report` reads the
    # judgments this module keeps without it
    from emotion_director.agents.backends import backend_name, make_chat_model
    from emotion_director.agents.structured import StructuredMemory, ainvoke_structured
    from emotion_director.evals.cache import SQLiteLLMCache, with_cache
    from emotion_director.evals.tables import validate_rows

    started = time.perf_counter()
    settings = settings or Settings()
    run = Path(run_dir)
    rows = validate_rows(read_results(run), str(run / "results.jsonl"))
    if not rows:
        raise RunFolderError(
            f"{run}: no results.jsonl rows; run `emotion-director eval run` first."
        )
    plan = plan_pairs(rows, systems, limit)
    inner = chat_model or make_chat_model(settings)
    _check_judge(run, judge_identity(settings, backend_name(inner)))
    cache = SQLiteLLMCache(cache_path or run / "judge_cache.sqlite", owned=cache_path is None)
    model = with_cache(inner, cache)
    out_path = run / "judgments.jsonl"
    if out_path.exists() and out_path.stat().st_size:
        with out_path.open("rb+") as handle:  # end a line cut by a crash
            handle.seek(-1, 2)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
    done = {
        (r["case_id"], r["first"], r["second"]) for r in read_judgments(run) if "error" not in r
    }
    todo = [(a, b) for a, b in plan if (a["case_id"], a["system"], b["system"]) not in done]
    lock = asyncio.Lock()
    semaphore = asyncio.Semaphore(max(concurrency, 1))
    counters = {"done": 0, "failed": 0}
    skipped = len(plan) - len(todo)

    memory = (
        StructuredMemory()
    )  # one for the whole judging run: what the server rejects is learnt once

    async def one(first: dict[str, Any], second: dict[str, Any]) -> None:
        record: dict[str, Any] = {
            "case_id": first["case_id"],
            "first": first["system"],
            "second": second["system"],
            "emotion": first["emotion"],
        }
        async with semaphore:
            if first["rewrite"].strip() == second["rewrite"].strip():
                record.update(
                    verdict="tie", winner="tie", reason="identical rewrites", identical=True
                )
            else:
                try:
                    verdict = await ainvoke_structured(
                        model,
                        JudgeVerdict,
                        judge_messages(
                            first["prompt"], first["emotion"], first["rewrite"], second["rewrite"]
                        ),
                        node="judge",
                        retries=settings.max_retries,
                        temperature=0.0,
                        seed=0,
                        method=settings.structured_method,
                        memory=memory,
                    )
                    shown = {"A": first["system"], "B": second["system"]}
                    winner = shown.get(verdict.winner, "tie")
                    record.update(verdict=verdict.winner, winner=winner, reason=verdict.reason)
                except EvalCacheError:
                    raise
                except EmotionDirectorError as exc:  # recorded; redone on the next resume
                    counters["failed"] += 1
                    record["error"] = str(exc)
        async with lock:
            append_jsonl(out_path, [record], what="judgments file")
            counters["done"] += 1
            if progress:
                progress(skipped + counters["done"], len(plan))

    await asyncio.gather(*(one(a, b) for a, b in todo))
    return JudgeSummary(
        out_path=out_path,
        done=counters["done"],
        skipped=skipped,
        failed=counters["failed"],
        cache_hits=cache.hits,
        cache_misses=cache.misses,
        seconds=time.perf_counter() - started,
    )


def win_rate(
    scores: list[float], *, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean score (win 1, tie 0.5, loss 0) with a percentile bootstrap 95% CI."""
    from emotion_director.evals.tables import bootstrap_ci

    return bootstrap_ci(scores, resamples=resamples, seed=seed)


def summarise_judgments(judgments: list[dict[str, Any]]) -> dict[str, Any]:
    """Win rates (per system and per pair), position-consistency and first-position bias.

    Returns:
        ``{"systems": {name: (rate, lo, hi, n)}, "pairs": {(a, b): (rate_a, lo, hi, n)},
        "consistency": float | None, "swapped_pairs": int, "first_position_rate": float | None,
        "failed": int, "trusted": bool}``
    """
    ok = [j for j in judgments if "error" not in j and "winner" in j]
    by_pair: dict[tuple[str, str, str], dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    for j in ok:
        a, b = sorted((j["first"], j["second"]))
        by_pair[(j["case_id"], a, b)][(j["first"], j["second"])] = j
    outcomes: list[tuple[str, str, str]] = []  # (a, b, winner or "tie")
    consistent = compared = 0
    for (_, a, b), orders in by_pair.items():
        if len(orders) < 2:
            continue  # one order only (a failed call): no outcome until it is redone
        one, two = orders[(a, b)], orders[(b, a)]
        if one.get("identical") or two.get("identical"):
            outcomes.append((a, b, "tie"))
            continue
        compared += 1
        if one["winner"] == two["winner"]:
            consistent += 1
            outcomes.append((a, b, one["winner"]))
        else:
            outcomes.append((a, b, "tie"))  # the verdict followed the position, not the text
    decisive = [j for j in ok if not j.get("identical") and j.get("verdict") in {"A", "B"}]
    per_system: dict[str, list[float]] = defaultdict(list)
    per_pair: dict[tuple[str, str], list[float]] = defaultdict(list)
    for a, b, winner in outcomes:
        score_a = 0.5 if winner == "tie" else float(winner == a)
        per_pair[(a, b)].append(score_a)
        per_system[a].append(score_a)
        per_system[b].append(1 - score_a)
    consistency = consistent / compared if compared else None
    return {
        "systems": {s: (*win_rate(v), len(v)) for s, v in sorted(per_system.items())},
        "pairs": {p: (*win_rate(v), len(v)) for p, v in sorted(per_pair.items())},
        "consistency": consistency,
        "swapped_pairs": compared,
        "first_position_rate": (
            sum(j["verdict"] == "A" for j in decisive) / len(decisive) if decisive else None
        ),
        "failed": len(judgments) - len(ok),
        "trusted": consistency is not None and consistency >= TRUST_THRESHOLD,
    }


def trust_warning(summary: dict[str, Any]) -> str | None:
    """A plain warning when the judge is too weak to trust, else None."""
    consistency = summary["consistency"]
    if consistency is None:
        return (
            "Warning: no pair was judged in both orders, so the judge's position-consistency "
            "is unknown: do not trust these win rates."
        )
    if consistency < TRUST_THRESHOLD:
        first = summary["first_position_rate"]
        bias = f" It picked the first rewrite {first:.0%} of the time." if first is not None else ""
        return (
            f"Warning: the judge is too weak to trust. Its verdict survives swapping A and B "
            f"in only {consistency:.0%} of {summary['swapped_pairs']} pairs (trusted from "
            f"{TRUST_THRESHOLD:.0%}).{bias} The win rates below mostly measure position "
            "bias, not quality: use a larger judge model."
        )
    return None


def _fmt(rate: float, lo: float, hi: float) -> str:
    return f"{rate:.3f} [{lo:.3f}, {hi:.3f}]"


def judge_section(run_dir: str | Path) -> Any:
    """The report's judge section (None when the run was not judged)."""
    from emotion_director.evals.tables import ReportSection, html_table, md_table

    run = Path(run_dir)
    judgments = read_judgments(run)
    if not judgments:
        return None
    s = summarise_judgments(judgments)
    try:
        who = json.loads((run / "judge.json").read_text(encoding="utf-8"))
        judge = f"{who.get('backend')} / {who.get('model')}"
    except (OSError, ValueError, AttributeError):
        judge = "unknown judge"
    consistency = "n/a" if s["consistency"] is None else f"{s['consistency']:.3f}"
    first = "n/a" if s["first_position_rate"] is None else f"{s['first_position_rate']:.3f}"
    intro = (
        f"Judge: {judge}. Pairwise A/B with the order swapped on every pair; a verdict "
        f"that flips with the order counts as a tie. Position-consistency {consistency} "
        f"over {s['swapped_pairs']} pairs; first-position rate {first} (0.5 is unbiased)"
        + (f"; {s['failed']} failed call(s)" if s["failed"] else "")
        + "."
    )
    warning = trust_warning(s)
    head = ["system", "win rate [95% CI]", "comparisons"]
    body = [[name, _fmt(*v[:3]), str(v[3])] for name, v in s["systems"].items()]
    pair_head = ["A", "B", "A's win rate [95% CI]", "cases"]
    pair_body = [[a, b, _fmt(*v[:3]), str(v[3])] for (a, b), v in s["pairs"].items()]
    md = ["## LLM judge (pairwise)", "", intro, ""]
    page = ["<h2>LLM judge (pairwise)</h2>", f"<p>{markdown_inline(intro)}</p>"]
    if warning:
        md += [f"**{warning}**", ""]
        page.append(f"<p class='warning'><strong>{html.escape(warning)}</strong></p>")
    md += [md_table(head, body), "", md_table(pair_head, pair_body), ""]
    page += [html_table(head, body), html_table(pair_head, pair_body)]
    return ReportSection("\n".join(md), "\n".join(page))
