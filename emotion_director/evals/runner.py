"""The eval runner: every (system, case) is rewritten once, scored, and appended to
``results.jsonl``; every LLM call goes through a SQLite cache. A killed run resumes where it
stopped (finished items are skipped, their LLM calls are cache hits).

Run folder:

* ``run.json``: metadata (versions, settings without secrets, systems) and the run's
  ``identity`` (backend, model, personas, seed, package version, dataset hash; see
  :mod:`emotion_director.evals.identity`): resuming with other ones is refused;
* ``results.jsonl``: one record per (system, case), appended as each finishes;
* ``vectors.jsonl``: each scored rewrite's MiniLM vector (appended just before its record), so
  that ``eval report`` computes diversity without loading MiniLM;
* ``llm_cache.sqlite``: the cache (pass ``cache_path`` to share one across runs).
"""

from __future__ import annotations

import asyncio
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from emotion_director.agents.backends import backend_name, make_chat_model
from emotion_director.errors import (
    EmotionDirectorError,
    OutputDirError,
    RunBusyError,
    RunFolderError,
    UserInputError,
)
from emotion_director.evals.cache import EvalCacheError, SQLiteLLMCache, with_cache
from emotion_director.evals.datasets import EvalCase
from emotion_director.evals.identity import check_resume, public_url, read_run_meta, run_identity
from emotion_director.evals.metrics import VECTORS_FILE
from emotion_director.evals.systems import SystemContext, make_systems
from emotion_director.evals.tables import (
    Tally,
    read_results,  # noqa: F401 (its old home)
)
from emotion_director.files import append_jsonl, exclusive_lock, write_text_atomic
from emotion_director.settings import Settings


@dataclass(kw_only=True)
class RunSummary(Tally):
    out_dir: Path


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in (
        "emotion-director",
        "langgraph",
        "langchain-core",
        "llama-cpp-python",
        "sentence-transformers",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def last_recorded_error(path: Path) -> str:
    """The ``error`` of the last record in the JSONL file ``path`` that has one (300 characters
    at most; ``""`` when none can be read): what a run that kept failed items says of them."""
    from emotion_director.files import read_run_jsonl

    last = ""
    try:
        for _, record in read_run_jsonl(path, what="results file", error=OSError):
            if "error" in record:
                last = str(record["error"])[:300]
    except OSError:
        pass
    return last


def _vector_record(metrics: Any, text: str) -> dict[str, str] | None:
    """The rewrite's line of the vectors file, when the metrics computed its vector."""
    vector = getattr(metrics, "vector_of", lambda _: None)(text)
    if vector is None:
        return None
    from emotion_director.evals.metrics import vector_record

    return vector_record(text, vector)


async def run_eval(
    systems: list[str],
    cases: list[EvalCase],
    out_dir: str | Path,
    *,
    settings: Settings | None = None,
    chat_model: Any = None,
    concurrency: int = 4,
    cache_path: str | Path | None = None,
    metrics: Any = None,
    progress: Callable[[int, int], None] | None = None,
    dataset: str | None = None,
) -> RunSummary:
    """Rewrite every case with every system, score it, append it; resume what is already done.

    Args:
        dataset (`str`, *optional*): where the cases came from (``builtin:shortcut``, a path),
            recorded in the run's identity; a resume from another source is refused.

    Raises:
        RunMismatchError: ``out_dir`` holds a run made with another backend, model, persona set,
            seed or dataset.
    """
    started = time.perf_counter()
    settings = settings or Settings()
    if not systems:
        raise UserInputError("no systems given: pass e.g. --systems identity,template,mc_agent.")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputDirError(f"cannot create run folder {out}: {exc.strerror}.") from None

    def busy(holder: str) -> RunBusyError:
        return RunBusyError(
            f"{out} is being written by another eval run{holder} right now: wait for it to "
            "finish (a second run would add every case again), or pass another --out folder."
        )

    # one process at a time writes a run folder: two both found nothing done and appended
    # every case twice (hostile round 5)
    with exclusive_lock(out / RUN_LOCK, busy=busy, error=RunFolderError):
        return await _run_in(
            systems,
            cases,
            out,
            settings,
            chat_model,
            concurrency,
            cache_path,
            metrics,
            progress,
            dataset,
            started,
        )


#: The lock file of a run folder, held while a process writes it.
RUN_LOCK = ".lock"


async def _run_in(
    systems: list[str],
    cases: list[EvalCase],
    out: Path,
    settings: Settings,
    chat_model: Any,
    concurrency: int,
    cache_path: str | Path | None,
    metrics: Any,
    progress: Callable[[int, int], None] | None,
    dataset: str | None,
    started: float,
) -> RunSummary:
    """:func:`run_eval` in its run folder ``out``, held by this process."""
    inner = chat_model or make_chat_model(settings)
    identity = run_identity(settings, backend_name(inner), cases, dataset)
    meta = read_run_meta(out)
    if meta is not None:
        check_resume(out, meta, identity, cases, read_results(out))
    cache = SQLiteLLMCache(cache_path or out / "llm_cache.sqlite", owned=cache_path is None)
    model = with_cache(inner, cache)
    ctx = SystemContext(settings=settings, model=model)
    built = make_systems(systems, ctx)
    if metrics is None:
        from emotion_director.evals.metrics import TextMetrics

        metrics = TextMetrics()
    stored_settings = settings.redacted_dump()  # no API key, no password in any URL
    stored_settings["base_url"] = public_url(settings.base_url)
    write_text_atomic(
        out / "run.json",
        json.dumps(
            {
                "created": (meta or {}).get("created") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "versions": _versions(),
                "settings": stored_settings,
                "identity": identity,
                "dataset_hash": identity["dataset"]["hash"],
                "cases": len(cases),
                "systems": list(dict.fromkeys([*(meta or {}).get("systems", []), *systems])),
            },
            indent=2,
            default=str,
        ),
        what="run record",
    )
    results_path = out / "results.jsonl"
    vectors_path = out / VECTORS_FILE
    if vectors_path.is_symlink() or (vectors_path.exists() and not vectors_path.is_file()):
        # a FIFO there would block the first append for good; a link would write elsewhere
        raise RunFolderError(
            f"{vectors_path}: not a regular file (a link, folder, device or pipe); remove it "
            "(it only caches the rewrites' vectors) and run again."
        )
    if results_path.exists() and results_path.stat().st_size:
        with results_path.open("rb+") as handle:  # a crash mid-write leaves a partial last line:
            handle.seek(-1, 2)  # end it, so the next record starts cleanly
            if handle.read(1) != b"\n":
                handle.write(b"\n")
    # an item that failed is not done: it is redone on every run until it succeeds
    done = {
        (r.get("system"), r.get("case_id"))
        for r in read_results(out)
        if isinstance(r, dict) and "error" not in r
    }
    asked = {(s, c.id) for s in systems for c in cases}
    done &= asked  # what this run asks for that an earlier run did (not other systems' rows)
    todo = [(s, c) for s in systems for c in cases if (s, c.id) not in done]
    lock = asyncio.Lock()
    counters = {"done": 0, "failed": 0}
    semaphore = asyncio.Semaphore(max(concurrency, 1))

    async def one(system_name: str, case: EvalCase) -> None:
        async with semaphore:
            t0 = time.perf_counter()
            record: dict[str, Any] = {
                "system": system_name,
                "case_id": case.id,
                "prompt": case.prompt,
                "emotion": case.emotion,
                "tags": case.tags,
            }
            try:
                rewrite = await built[system_name].rewrite(case)
                scores = await asyncio.to_thread(
                    metrics.score_rewrite, case.prompt, rewrite.text, case.emotion
                )
                record |= {
                    "rewrite": rewrite.text,
                    "negative_prompt": rewrite.negative_prompt,
                    "meta": rewrite.meta,
                    "metrics": scores,
                    "seconds": round(time.perf_counter() - t0, 3),
                }
            except EvalCacheError:
                raise  # not about this case: stop, finished items are kept
            except EmotionDirectorError as exc:  # record it and go on: a bad case is data
                counters["failed"] += 1
                record["error"] = str(exc)
            vector = None if "error" in record else _vector_record(metrics, record["rewrite"])
            async with lock:  # append-only: a crash loses at most the items in flight
                if vector is not None:  # before the result: a result never lacks its vector
                    append_jsonl(vectors_path, [vector], what="vectors file", error=RunFolderError)
                append_jsonl(results_path, [record], what="results file", error=RunFolderError)
                counters["done"] += 1
                if progress:
                    progress(len(done) + counters["done"], len(systems) * len(cases))

    await asyncio.gather(*(one(s, c) for s, c in todo))
    return RunSummary(
        out_dir=out,
        done=counters["done"],
        skipped=len(done),
        failed=counters["failed"],
        cache_hits=cache.hits,
        cache_misses=cache.misses,
        seconds=time.perf_counter() - started,
    )
