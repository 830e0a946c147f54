"""Compare two persona sets on a few scenes: how each persona's reading and the final prompt move.

Tuning personas by editing YAML and re-reading one output is guesswork; running the same scenes
with the same seed through both sets, side by side, shows what an edit actually changed.

Example:
    >>> from emotion_director import Settings
    >>> from emotion_director.testing import TestChatModel
    >>> rows = diff_persona_sets(None, None, Settings(), chat_model=TestChatModel(),
    ...                          scenes=[("a dog in a park", "awe")])
    >>> any(r.changed for r in rows)
    False
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from emotion_director.errors import InvalidRequestError
from emotion_director.settings import Settings

#: Scenes used when none are given: different subjects and both polarities.
DEFAULT_SCENES: tuple[tuple[str, str], ...] = (
    ("a dog in a park", "awe"),
    ("an old man on a bench", "sadness"),
    ("a kitchen at breakfast", "contentment"),
)


class DiffRow(BaseModel):
    """One scene and one persona (or ``"(final prompt)"``), read by set A and by set B."""

    scene: str
    emotion: str
    persona: str
    a: str
    b: str

    @property
    def changed(self) -> bool:
        return self.a != self.b


def _load_set(directory: Path | None) -> list:
    from emotion_director.personas.loader import load_personas

    return load_personas([directory] if directory is not None else None)


def _run_set(
    personas: list,
    settings: Settings,
    scenes: Sequence[tuple[str, str]],
    seed: int,
    names: Sequence[str] | None,
    chat_model: Any,
) -> list[dict | None]:
    """The set's outputs per scene; ``None`` per scene when it has none of ``names``."""
    from emotion_director.graph.builder import build_graph

    if names:
        present = {p.name for p in personas}
        names = [n for n in names if n in present]  # a persona only the other set has: '-'
        if not names:
            return [None for _ in scenes]
    graph = build_graph(settings, personas=personas, chat_model=chat_model)
    selection = {"personas": list(names)} if names else {}
    return [
        graph.invoke({"prompt": scene, "emotion": emotion, "seed": seed, **selection})
        for scene, emotion in scenes
    ]


def diff_persona_sets(
    a: Path | None,
    b: Path | None,
    settings: Settings,
    *,
    scenes: Sequence[tuple[str, str]] = DEFAULT_SCENES,
    seed: int = 0,
    names: Sequence[str] | None = None,
    chat_model: Any = None,
) -> list[DiffRow]:
    """Rewrite ``scenes`` with the defaults plus folder ``a`` and with the defaults plus ``b``.

    Args:
        a, b (`Path` or `None`): persona folders (``None``: the defaults alone).
        settings (`Settings`): backend and limits, shared by both runs.
        scenes (`list[tuple[str, str]]`, *optional*): ``(prompt, emotion)`` pairs.
        seed (`int`, *optional*, defaults to 0): the same seed for both sets.
        names (`list[str]`, *optional*): only these personas (faster on a slow backend); a
            name only one set has (a persona being added or removed) shows ``'-'`` on the
            other side; a name neither set has is an :class:`InvalidRequestError`.
        chat_model (`BaseChatModel`, *optional*): use this model for both runs instead of the
            backend's (e.g. ``TestChatModel()`` from :mod:`emotion_director.testing`).

    Returns:
        Per scene, one row per persona present in either set (cues joined by ``'; '``, or
        ``'-'`` when the set lacks that persona), then the final prompts.
    """
    set_a, set_b = _load_set(a), _load_set(b)
    if names:
        known = {p.name for p in set_a} | {p.name for p in set_b}
        unknown = [n for n in dict.fromkeys(names) if n not in known]
        if unknown:
            raise InvalidRequestError(
                f"unknown persona(s) {', '.join(unknown)} in both sets; available: "
                f"{', '.join(sorted(known))}."
            )
    runs_a = _run_set(set_a, settings, scenes, seed, names, chat_model)
    runs_b = _run_set(set_b, settings, scenes, seed, names, chat_model)
    rows: list[DiffRow] = []
    for (scene, emotion), out_a, out_b in zip(scenes, runs_a, runs_b):
        cues_a = {r.persona: "; ".join(r.cues) for r in (out_a or {}).get("readings", [])}
        cues_b = {r.persona: "; ".join(r.cues) for r in (out_b or {}).get("readings", [])}
        for name in dict.fromkeys([*cues_a, *cues_b]):
            rows.append(
                DiffRow(
                    scene=scene,
                    emotion=emotion,
                    persona=name,
                    a=cues_a.get(name, "-"),
                    b=cues_b.get(name, "-"),
                )
            )
        rows.append(
            DiffRow(
                scene=scene,
                emotion=emotion,
                persona="(final prompt)",
                a=out_a["final_prompt"] if out_a else "-",
                b=out_b["final_prompt"] if out_b else "-",
            )
        )
    return rows
