"""``generate --prompts FILE``: many prompts, split across processes under ``accelerate launch``.

The file is JSONL (``{"prompt": ..., "emotion": ..., "seed": ..., "negative_emotion": ...}``;
missing fields take the command's options) or plain text, one prompt per line (a line that opens
with ``{`` is a JSON object; the others are prompts, with ``--emotion``'s emotion). Each process
gets an interleaved share (accelerate's ``split_between_processes``), loads the pipeline once on
its own device and writes its images into the shared output folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emotion_director.diffusion.generator import MAX_PROMPT_CHARS, check_seed
from emotion_director.emotions import resolve_emotion
from emotion_director.errors import InvalidRequestError
from emotion_director.untrusted import clean_prompt


def read_prompt_file(path: Path, default_emotion: str | None, seed: int) -> list[dict[str, Any]]:
    """Parse the prompt file into requests; errors name the file and line."""
    from emotion_director.files import MiB, parse_json, text_lines

    requests = []
    for number, line in text_lines(
        path, what="--prompts file", max_bytes=64 * MiB, error=InvalidRequestError
    ):
        where = f"{path}:{number}"
        plain = not line.lstrip().startswith("{")
        if not plain:
            record = parse_json(
                line,
                where=where,
                fix='write one {"prompt": "...", "emotion": "..."} object a line',
                kind=dict,
                error=InvalidRequestError,
            )
            if "prompt" not in record:
                raise InvalidRequestError(f'{where}: missing "prompt".')
            if not isinstance(record["prompt"], str):
                raise InvalidRequestError(f'{where}: "prompt" must be text.')
            if not record["prompt"].strip():
                raise InvalidRequestError(f'{where}: "prompt" is empty: describe a scene.')
        else:
            record = {"prompt": line.strip()}
        if plain and not default_emotion:
            # a line of plain text, where the file's other lines may be JSON objects: the
            # emotion it lacks is --emotion's, and the line may be a JSON object gone wrong
            raise InvalidRequestError(
                f"{where}: a line of plain text ({line.strip()[:40]!r}) takes its emotion from "
                '--emotion: pass --emotion, or write the line as {"prompt": "...", "emotion": '
                '"..."}.'
            )
        emotion = record.get("emotion") or default_emotion
        if not emotion:
            raise InvalidRequestError(f'{where}: no emotion: add "emotion" or pass --emotion.')
        try:
            record["emotion"] = resolve_emotion(str(emotion)).value
            if record.get("negative_emotion"):
                record["negative_emotion"] = resolve_emotion(str(record["negative_emotion"])).value
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"{where}: {exc}") from None
        record.setdefault("seed", seed)
        if not isinstance(record["seed"], int) or isinstance(record["seed"], bool):
            raise InvalidRequestError(f'{where}: "seed" must be an integer.')
        try:  # before any image is drawn: a bad line part-way would stop the batch there
            check_seed(record["seed"])
            record["prompt"] = clean_prompt(record["prompt"], MAX_PROMPT_CHARS, setting=None)
            if record.get("negative_prompt"):
                record["negative_prompt"] = clean_prompt(
                    record["negative_prompt"],
                    MAX_PROMPT_CHARS,
                    what="negative prompt",
                    setting=None,
                )
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"{where}: {exc}") from None
        requests.append(record)
    if not requests:
        raise InvalidRequestError(f"--prompts {path}: no prompts in the file.")
    return requests


def generate_prompt_file(
    generator: Any,
    path: Path,
    *,
    default_emotion: str | None,
    seed: int,
    negative_emotion: str | None = None,
    negative_prompt: str | None = None,
) -> list[str]:
    """Generate this process's share of the prompt file; returns the PNG paths it wrote."""
    import torch
    from accelerate import PartialState

    requests = read_prompt_file(path, default_emotion, seed)
    state = PartialState(cpu=not torch.cuda.is_available())  # CPU processes: gloo
    if state.num_processes > 1 and generator.device == "cuda":
        generator.device = f"cuda:{state.local_process_index}"
    paths: list[str] = []
    with state.split_between_processes(requests) as mine:
        for request in mine:
            paths += generator.generate(
                request["prompt"],
                emotion=request["emotion"],
                seed=request["seed"],
                negative_emotion=request.get("negative_emotion") or negative_emotion,
                negative_prompt=request.get("negative_prompt") or negative_prompt,
            )
    return paths
