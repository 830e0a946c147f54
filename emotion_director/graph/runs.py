"""Running the graph for a caller that shows each step: a streamed run, and a durable run.

* :func:`stream_run`: one pass of the graph (to the end, or to the next review question), each
  node's update handed to ``on_update`` as it comes;
* :func:`run_thread`: a run checkpointed under a thread id (SQLite or PostgreSQL): started,
  resumed after a crash (finished persona readings are not recomputed), or answered when it
  waits for a review; a resume continues the run as it was started, or is refused.

The graph and LangGraph are imported on first use: importing this module stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emotion_director.errors import InvalidRequestError
from emotion_director.redaction import redact
from emotion_director.settings import Settings

#: Told each ``updates`` chunk of the stream (``{node: update}``), review pauses left out.
OnUpdate = Callable[[dict[str, Any]], None]
#: Asked a paused run's review: (interrupt payload, run values, max prompt chars, thread) ->
#: the resume value; it must raise to stop (the run stays saved).
AskReview = Callable[[dict[str, Any], dict[str, Any], int, str], dict[str, Any]]


async def stream_run(
    graph: Any,
    request: Any,
    *,
    config: dict[str, Any] | None = None,
    on_update: OnUpdate | None = None,
) -> dict[str, Any]:
    """Run ``graph`` on ``request`` (an input, ``None`` to continue, or a resume ``Command``)
    and return the state's last values; ``RewriteResult.from_state`` turns finished ones into a
    result."""
    final: dict[str, Any] = {}
    async for mode, chunk in graph.astream(request, config, stream_mode=["updates", "values"]):
        if mode == "updates" and "__interrupt__" in chunk:
            continue
        if mode == "values":
            final = chunk
        elif on_update is not None:
            on_update(chunk)
    return final


def finished_result(values: dict[str, Any], thread: str) -> Any:
    """The ``RewriteResult`` of a thread's finished run."""
    from emotion_director.graph import RewriteResult

    if "final_prompt" not in values:
        raise InvalidRequestError(
            f"the run of --thread {thread} has no result yet: continue it with --thread {thread} "
            "--resume."
        )
    return RewriteResult.from_state(values)


async def run_thread(
    settings: Settings,
    thread: str,
    request: dict[str, Any] | None,
    *,
    ask_review: AskReview,
    given: dict[str, Any] | None = None,
    on_update: OnUpdate | None = None,
    on_resume: Callable[[list[str]], None] | None = None,
) -> Any:
    """Start (``request``) or resume (``None``) the run of ``thread``; its ``RewriteResult``.

    ``given``: with a resume, what the caller gave again (prompt, emotion ...): it must be the
    run's, checked, never ignored. ``on_resume`` is told the personas whose readings are saved
    when an unfinished run continues; ``ask_review`` answers each review question (with
    ``settings.review``; without it, a paused run is an error that says how to answer it).
    """
    from emotion_director.graph import build_graph
    from emotion_director.graph.checkpoints import open_checkpointer
    from emotion_director.graph.durable import (
        check_resume,
        check_thread_id,
        config_with_identity,
        hold_thread,
        recorded_identity,
        run_identity,
        saved_run,
    )

    thread = check_thread_id(thread)
    where = redact(settings.checkpoint_url) if settings.checkpoint_url else settings.checkpoint_db
    async with open_checkpointer(settings) as saver, hold_thread(settings, saver, thread):
        graph = build_graph(settings, checkpointer=saver)
        config: dict[str, Any] = {"configurable": {"thread_id": thread}}
        saved = await saved_run(graph, config)
        if request is not None and saved.status != "none":
            hint = "print it with" if saved.status == "finished" else "continue it with"
            raise InvalidRequestError(
                f"--thread {thread} already holds a {saved.status} run ({saved.describe()}): "
                f"{hint} --thread {thread} --resume"
                f"{' --review' if saved.status == 'paused' else ''}"
                ", or start this request under another --thread id."
            )
        current = run_identity(settings, request)
        if request is None and saved.status != "none":
            # a resume continues the run as it was started, or not at all; a run saved before
            # runs recorded their settings (no identity) resumes as it always did
            recorded = await recorded_identity(saver, config)
            check_resume(thread, recorded, current, saved.values, given)
            config = config_with_identity(config, recorded)
        else:
            config = config_with_identity(config, current)
        if request is None and not settings.review and saved.status == "finished":
            # a graph without the review node sees a run paused for review as finished
            probe = build_graph(settings.model_copy(update={"review": True}), checkpointer=saver)
            if (await saved_run(probe, config)).status == "paused":
                raise InvalidRequestError(
                    f"the run of --thread {thread} waits for a review: answer it with --thread "
                    f"{thread} --resume --review."
                )
        if request is None:
            if saved.status == "none":
                raise InvalidRequestError(f"no run saved under --thread {thread} in {where}.")
            if saved.status == "finished":
                return finished_result(saved.values, thread)
            if on_resume is not None:
                on_resume([r.persona for r in saved.values.get("readings", [])])
        if saved.status != "paused":  # a paused run goes straight to its question
            await stream_run(graph, request, config=config, on_update=on_update)
        while True:  # with review: answer each interrupt
            saved = await saved_run(graph, config)
            if saved.status != "paused":
                if saved.status != "finished":
                    raise InvalidRequestError(
                        f"the run of --thread {thread} stopped before it finished: continue it "
                        f"with --thread {thread} --resume."
                    )
                return finished_result(saved.values, thread)
            payload = saved.interrupts[0].value
            if not settings.review:
                raise InvalidRequestError(
                    f"the run of --thread {thread} waits for a review: answer it with --thread "
                    f"{thread} --resume --review."
                )
            decision = ask_review(payload, saved.values, settings.max_prompt_chars, thread)
            from langgraph.types import Command

            await stream_run(graph, Command(resume=decision), config=config, on_update=on_update)
