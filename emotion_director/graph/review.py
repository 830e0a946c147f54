"""Checking a reviewer's answer before it becomes the value a paused run resumes with.

A resume value is stored in the checkpoint: an answer the review node cannot use would be
replayed on every later resume. So the answer is checked twice: by the caller before it is
sent (the CLI asks again), and by the node, which asks again instead of failing.

Example:
    >>> review_answer_problem({"action": "drop", "personas": ["nobody"]}, ["poet", "child"], [])
    'unknown persona(s) nobody: drop some of poet, child (comma-separated).'
    >>> review_answer_problem({"action": "approve"}, ["poet"], []) is None
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emotion_director.untrusted import hidden_text_problem, remove_invisible

ACTIONS = ("approve", "edit", "drop")


def review_answer_problem(
    answer: Any, personas: Sequence[str], dropped: Sequence[str], *, max_chars: int = 1000
) -> str | None:
    """What is wrong with a review answer (one line a reviewer can act on), or ``None``.

    Args:
        answer (`dict`): ``{"action": "approve"}``, ``{"action": "edit", "final_prompt": ...}``
            or ``{"action": "drop", "personas": [...]}``.
        personas (`list[str]`): the run's personas.
        dropped (`list[str]`): personas whose readings are already dropped.
        max_chars (`int`, *optional*, defaults to 1000): the longest accepted edited prompt.
    """
    if not isinstance(answer, dict) or answer.get("action") not in ACTIONS:
        action = answer.get("action") if isinstance(answer, dict) else answer
        return (
            f"unknown review action {str(action)[:40]!r}: use approve, edit (with "
            "final_prompt) or drop (with personas)."
        )
    if answer["action"] == "edit":
        text = answer.get("final_prompt")
        if not isinstance(text, str):
            return "review 'edit' needs final_prompt as text."
        hidden = hidden_text_problem(text, "the edited prompt")
        if hidden:
            return hidden
        if any(ord(c) < 32 and c not in "\t\n\r" or ord(c) == 127 for c in text):
            return "the edited prompt contains a control character: remove it."
        clean = " ".join(remove_invisible(text).split())
        if not clean:
            return "review 'edit' needs a non-empty final_prompt."
        if len(clean) > max_chars:
            return (
                f"the edited prompt is {len(clean)} characters, over the {max_chars}-"
                "character limit: shorten it (a diffusion model reads only ~77 tokens)."
            )
    if answer["action"] == "drop":
        names = answer.get("personas")
        if (
            not isinstance(names, (list, tuple))
            or not names
            or not all(isinstance(n, str) for n in names)
        ):
            return "review 'drop' needs persona names (comma-separated)."
        unknown = [n for n in names if n not in personas]
        if unknown:
            shown = ", ".join(n[:40] for n in unknown[:5])
            return (
                f"unknown persona(s) {shown}: drop some of {', '.join(personas)} (comma-separated)."
            )
        if set(personas) <= {*dropped, *names}:
            return "review cannot drop every persona's reading: keep at least one."
    return None
