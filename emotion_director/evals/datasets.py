"""Eval datasets: JSONL of ``{id, prompt, emotion, tags?}``, and the built-in set.

The built-in set (208 cases) has two parts:

* ``builtin:shortcut`` (80): subjects whose usual emotion clashes with the target ("an angry
  dog" -> contentment, "a funeral" -> amusement, "a birthday party" -> fear): every subject is
  paired with the four emotions of the opposite polarity. These expose the semantic shortcut.
* ``builtin:neutral`` (128): neutral subjects ("a chair", "a bus stop") x all 8 emotions.

``builtin:all`` is both.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from emotion_director import untrusted
from emotion_director.emotions import resolve_emotion
from emotion_director.errors import EvalDatasetError, UnknownEmotionError
from emotion_director.files import MAX_LINE_CHARS, MiB, read_text_file


class EvalCase(BaseModel):
    id: str = Field(min_length=1)
    prompt: str = Field(min_length=1, max_length=10_000)
    emotion: str
    tags: list[str] = Field(default_factory=list)

    @field_validator("emotion")
    @classmethod
    def _known(cls, value: str) -> str:
        return resolve_emotion(value).value

    @field_validator("prompt")
    @classmethod
    def _usable(cls, value: str) -> str:
        """A prompt a rewrite takes: a case that every system but the agent would score (a NUL
        or a bidirectional override in it) fails the dataset's check, not the run."""
        control = untrusted.control_character(value)
        if control is not None:
            raise ValueError(f"contains control character U+{ord(control):04X}: remove it")
        hidden = untrusted.hidden_text_problem(value, "prompt")
        if hidden:
            raise ValueError(hidden)
        if not untrusted.remove_invisible(value).strip():
            raise ValueError("is empty: describe a scene, e.g. 'a dog in a park'")
        return value


def load_eval_dataset(spec: str) -> list[EvalCase]:
    """``builtin:all|shortcut|neutral`` or a path to a JSONL file."""
    if spec.startswith("builtin:"):
        part = spec.split(":", 1)[1]
        if part not in {"all", "shortcut", "neutral"}:
            raise EvalDatasetError(
                f"unknown built-in dataset '{spec}': use builtin:all, "
                "builtin:shortcut or builtin:neutral."
            )
        text = (
            resources.files("emotion_director.evals").joinpath("data", "builtin.jsonl").read_text()
        )
        cases = _parse(text, "builtin.jsonl")
        return cases if part == "all" else [c for c in cases if part in c.tags]
    path = Path(spec)
    if not path.exists():
        raise EvalDatasetError(f"dataset {path} not found: pass a JSONL file or builtin:shortcut.")
    text = read_text_file(path, what="dataset", max_bytes=64 * MiB, error=EvalDatasetError)
    return _parse(text, str(path))


def _parse(text: str, source: str) -> list[EvalCase]:
    cases: list[EvalCase] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_CHARS:
            raise EvalDatasetError(
                f"{source}:{number}: a line of {len(line):,} characters, over "
                f"the {MAX_LINE_CHARS:,}-character limit; a case is one short "
                "prompt."
            )
        try:
            case = EvalCase.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise EvalDatasetError(f"{source}:{number}: invalid JSON ({exc.msg}).") from None
        except UnknownEmotionError as exc:
            raise EvalDatasetError(f"{source}:{number}: {exc}") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ").rstrip(".")
            raise EvalDatasetError(f"{source}:{number}: field '{field}': {message}.") from None
        if case.id in seen:
            raise EvalDatasetError(f"{source}:{number}: duplicate id '{case.id}'.")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise EvalDatasetError(f"{source}: no cases.")
    return cases


def dataset_hash(cases: list[EvalCase]) -> str:
    payload = "\n".join(c.model_dump_json() for c in cases)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
