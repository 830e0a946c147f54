"""Image evals: does the rewrite make an image that evokes the emotion and keeps the subject?

For each chosen (system, case) of a text eval run (``results.jsonl``), N images are generated
with one diffusers checkpoint: ``mc_agent*`` systems through :class:`MCDiffusionPipeline` with the
emotion's visual prompt (when a bank is given), every other system with the same checkpoint's
plain text-to-image call. Image ``i`` of a case uses the same seed for every system, so systems
are compared on the same noise. Each image is scored with:

* ``emotion_accuracy`` / ``true_class_prob``: an :class:`EmotionProbe` (a linear probe on frozen
  CLIP features trained on EmoSet) predicts the emotion; accuracy of its top-1 against the
  target, and the mean probability it gives the target. Chance is 1/8.
* ``clip_score``: CLIPScore (``100 * max(cos(image, text), 0)``) between the image and the
  case's *original subject* (is the content kept?).
* ``diversity``: mean pairwise CLIP-feature distance (``1 - cos``) among one system's images of
  one emotion, averaged over emotions (a collapsed, template-like system scores low).

Controls scored alongside: ``probe_control_accuracy`` is the probe's accuracy against a wrong
target (the next emotion), and ``clip_score_control`` the CLIPScore against another case's
subject; a working probe and CLIP keep both well below the real scores.

Files (in the run folder): ``images/<system>/<case>-<i>.png``; ``images/records-rank<k>.jsonl``,
one line per scored image, appended as each finishes (process ``k`` of ``accelerate launch``
writes its own file; readers merge them); ``images/config.json``, the settings the images were
made with (a re-run with other generation settings is refused rather than mixing images).
A killed run resumes: scored images are skipped, and a PNG already on disk is scored, not redone.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emotion_director import files
from emotion_director.emotions import Emotion
from emotion_director.errors import EmotionDirectorError, ImageEvalError
from emotion_director.evals.markup import markdown_inline
from emotion_director.files import append_jsonl, read_run_jsonl, write_text_atomic

VISUAL_PROMPT_SYSTEMS = "mc_agent"  # name prefix of systems generated with the visual prompt
EMOTIONS = [e.value for e in Emotion]
GRIDS_IN_REPORT = 12  # embedded in the report; every case's grid is written to grids/
IMAGE_METRICS = (
    "emotion_accuracy",
    "true_class_prob",
    "clip_score",
    "probe_control_accuracy",
    "clip_score_control",
)


# ---------------------------------------------------------------- metrics on features / probs
def clip_score(image_features: Any, text_features: Any) -> Any:
    """CLIPScore per row: ``100 * max(cos(image, text), 0)`` (rows need not be normalised)."""
    import torch.nn.functional as F

    cos = F.cosine_similarity(image_features.float(), text_features.float(), dim=-1)
    return 100 * cos.clamp_min(0)


def mean_pairwise_distance(features: Any) -> float:
    """Mean ``1 - cos`` over all pairs of rows (0: identical; 1: orthogonal); nan below 2 rows."""
    import torch
    import torch.nn.functional as F

    n = features.shape[0]
    if n < 2:
        return float("nan")
    x = F.normalize(features.float(), dim=-1)
    sims = x @ x.T
    upper = torch.triu_indices(n, n, offset=1)
    return float((1 - sims[upper[0], upper[1]]).mean())


def frechet_distance(a: Any, b: Any) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (``[n, d]``, ``[m, d]``):
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)``, the formula of FID, on
    whatever features it is given (square roots by symmetric eigendecomposition, float64)."""
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(
            f"frechet_distance needs two [n >= 2, d] sets, got {a.shape} and {b.shape}"
        )
    mean = a.mean(axis=0) - b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    cross = np.sqrt(np.clip(inner, 0.0, None)).sum()
    return float(mean @ mean + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)


REFERENCE_FILE = "reference-clip.npz"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


#: The most pixels an image the evals read may have (checked before decoding).
MAX_IMAGE_PIXELS = files.MAX_IMAGE_PIXELS


def open_rgb(path: Path, *, what: str) -> Any:
    """The RGB image at ``path`` (:func:`~emotion_director.files.read_rgb_image`), or an
    :class:`ImageEvalError` naming it."""
    return files.read_rgb_image(path, what=what, error=ImageEvalError, max_pixels=MAX_IMAGE_PIXELS)


def _reference_images(folder: Path, limit: int) -> list[Path]:
    if not folder.is_dir():
        raise ImageEvalError(f"--reference {folder} is not a folder: give a folder of real images.")
    paths = sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file()
    )
    if len(paths) < 2:
        raise ImageEvalError(
            f"--reference {folder} holds {len(paths)} images (jpg, png or webp, in any "
            "subfolder); the Fréchet distance needs at least 2."
        )
    return paths[:limit]


def _encode_reference(folder: Path, settings: ImageEvalSettings, scorer: Any) -> None:
    """The reference images' CLIP features in ``images/reference-clip.npz`` (computed once per
    reference folder and CLIP; a file for another one is replaced)."""
    import numpy as np
    from PIL import UnidentifiedImageError

    from emotion_director.files import atomic_write

    source = str(Path(settings.reference or "").resolve())
    target = folder / REFERENCE_FILE
    if target.is_file():
        with np.load(target) as old:
            if str(old["source"]) == source and str(old["clip"]) == settings.clip:
                return
    paths = _reference_images(Path(source), settings.reference_limit)
    features = []
    for start in range(0, len(paths), 32):
        images = []
        for path in paths[start : start + 32]:
            try:
                images.append(open_rgb(path, what="--reference image"))
            except (OSError, UnidentifiedImageError) as exc:
                raise ImageEvalError(f"--reference: cannot read {path}: {exc}") from None
        features.append(scorer.clip.images(images).float().numpy())
    array = np.concatenate(features).astype(np.float32)

    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.savez(handle, features=array, source=np.array(source), clip=np.array(settings.clip))

    atomic_write(target, write, what="reference features", error=ImageEvalError)


def read_reference(run_dir: str | Path) -> Any:
    """The run's reference CLIP features (``[n, d]`` float32), or ``None`` without any."""
    import numpy as np

    path = Path(run_dir) / "images" / REFERENCE_FILE
    if not path.is_file():
        return None
    with np.load(path) as data:
        return data["features"]


def emotion_accuracy(probs: Any, targets: list[str]) -> float:
    """Share of rows whose most probable emotion is the target."""
    pred = probs.argmax(dim=-1).tolist()
    return sum(EMOTIONS[p] == t for p, t in zip(pred, targets)) / len(targets)


def true_class_probability(probs: Any, targets: list[str]) -> float:
    """Mean probability the probe gives each row's target emotion."""
    return sum(float(probs[i, EMOTIONS.index(t)]) for i, t in enumerate(targets)) / len(targets)


# ---------------------------------------------------------------- settings and records
@dataclass
class ImageEvalSettings:
    """What ``eval images`` generates and scores with.

    Args:
        model (`str`): SD 1.5 / SDXL diffusers folder or hub id available offline.
        clip (`str`): CLIP folder or id (CLIPScore, diversity, and the probe when it was
            trained on the same encoder).
        probe (`str`, *optional*): probe file from ``eval train-probe``; without it the emotion
            metrics are not computed.
        bank, adapter, lora (`str`, *optional*): MC-Diffusion's visual prompt bank and weights;
            without a bank every system is generated as plain text-to-image.
        images_per_case (`int`, *optional*, defaults to 4): N.
        reference (`str`, *optional*): a folder of real images (an EmoSet-layout folder or
            any tree of jpg/png/webp): each system's images get the Fréchet distance of their
            CLIP features to these (``fd_clip``), beside the distance between two halves of the
            reference itself.
        reference_limit (`int`, *optional*, defaults to 2000): the most reference images read
            (the first in path order).
    """

    model: str
    clip: str
    probe: str | None = None
    bank: str | None = None
    adapter: str | None = None
    lora: str | None = None
    images_per_case: int = 4
    steps: int = 30
    guidance_scale: float = 7.5
    size: int | None = None
    seed: int = 0
    batch_size: int = 4
    systems: list[str] | None = None
    limit: int | None = None
    device: str = "auto"
    reference: str | None = None
    reference_limit: int = 2000

    def generation_key(self) -> dict[str, Any]:
        """The settings an image depends on: a run folder keeps one set of them."""
        keys = (
            "model",
            "bank",
            "adapter",
            "lora",
            "steps",
            "guidance_scale",
            "size",
            "seed",
            "clip",
            "probe",
        )
        return {k: getattr(self, k) for k in keys}


@dataclass
class ImageEvalSummary:
    out_dir: Path
    generated: int
    reused_png: int
    skipped: int
    seconds: float
    rank: int = 0
    world_size: int = 1
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.generated / self.seconds if self.seconds else float("nan")


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def image_seed(seed: int, case_id: str, index: int) -> int:
    """Image ``index`` of a case: the same noise for every system (paired comparisons)."""
    return zlib.crc32(f"{seed}|{case_id}|{index}".encode())


def read_image_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every scored image of the run, merged over the per-process files (first record wins)."""
    folder = Path(run_dir) / "images"
    seen: dict[tuple[str, str, int], dict[str, Any]] = {}
    for path in sorted(folder.glob("records-rank*.jsonl")):
        # a line cut by a crash mid-write: that image is scored again
        for _, record in read_run_jsonl(
            path, what="image records file", item="image record", error=ImageEvalError
        ):
            try:
                key = (record["system"], record["case_id"], int(record["index"]))
            except (KeyError, TypeError, ValueError):
                continue  # not a record of this format: that image is scored again
            seen.setdefault(key, record)
    return list(seen.values())


def select_items(run_dir: Path, settings: ImageEvalSettings) -> list[dict[str, Any]]:
    """The text run's (system, case) rows to make images for, in the run's case order."""
    from emotion_director.evals.tables import read_results

    if not run_dir.is_dir():
        raise ImageEvalError(
            f"run folder {run_dir} not found: run `emotion-director eval run "
            f"--out {run_dir}` first."
        )
    rows = [r for r in read_results(run_dir) if r.get("rewrite")]
    if not rows:
        raise ImageEvalError(
            f"{run_dir}: no rewrites in results.jsonl; run `emotion-director eval "
            f"run --out {run_dir}` first."
        )
    available = list(dict.fromkeys(r["system"] for r in rows))
    systems = settings.systems or available
    unknown = [s for s in systems if s not in available]
    if unknown:
        raise ImageEvalError(
            f"system(s) {', '.join(unknown)} not in {run_dir}/results.jsonl; "
            f"it has: {', '.join(available)}."
        )
    cases = list(dict.fromkeys(r["case_id"] for r in rows))[: settings.limit]
    chosen = set(cases)
    order = {c: i for i, c in enumerate(cases)}
    picked = [r for r in rows if r["system"] in systems and r["case_id"] in chosen]
    return sorted(picked, key=lambda r: (order[r["case_id"]], systems.index(r["system"])))


def _check_config(folder: Path, settings: ImageEvalSettings) -> None:
    """Refuse to add images made with other settings to images already there."""
    path = folder / "config.json"
    key = settings.generation_key()
    has_images = any(folder.glob("*/*.png")) or any(folder.glob("records-rank*.jsonl"))
    if path.is_file() and has_images:
        old = json.loads(path.read_text())
        changed = {k: (old.get(k), v) for k, v in key.items() if old.get(k) != v}
        if changed:
            what = "; ".join(
                f"{k}: {a!r} -> {b!r}" for k, a, b in ((k, *pair) for k, pair in changed.items())
            )
            raise ImageEvalError(
                f"{folder} holds images made with other settings ({what}): use the same "
                "settings to resume, or another run folder (or delete its images/ folder)."
            )
    else:  # nothing made yet: a corrected path or setting simply replaces the old one
        write_text_atomic(path, json.dumps(key, indent=2), what="image settings")


# ---------------------------------------------------------------- the runner
def _distributed(cpu: bool = False) -> Any:
    """accelerate's process state when installed (one process without a launcher).

    ``accelerate launch`` / ``torchrun`` set ``LOCAL_RANK`` / ``WORLD_SIZE``; on GPUs that gives
    one process per GPU (NCCL), and with ``cpu=True`` several CPU processes (gloo).
    """
    try:
        from accelerate import PartialState
    except ImportError:
        return None
    return PartialState(cpu=cpu)


def _device(requested: str, state: Any) -> str:
    import torch

    if requested == "auto":
        if state is not None:
            return str(state.device)
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ImageEvalError(
                "--device cuda but no CUDA GPU is visible: use --device cpu or auto."
            )
        if state is not None and state.num_processes > 1:
            return str(state.device)  # one GPU per process under accelerate launch
    elif requested != "cpu":
        raise ImageEvalError(f"unknown device '{requested}': use auto, cpu or cuda.")
    return requested


class _Scorer:
    """CLIP features, the probe and CLIPScore for one image batch; text embeddings cached."""

    def __init__(self, settings: ImageEvalSettings, device: str) -> None:
        from emotion_director.evals.probe import ClipFeatures, EmotionProbe

        self.clip = ClipFeatures.from_pretrained(settings.clip, device=device)
        self.probe = EmotionProbe.load(settings.probe) if settings.probe else None
        self.probe_encoder: Any = None
        if self.probe is not None and self.probe.encoder not in ("", settings.clip):
            from emotion_director.evals.probe import load_image_encoder

            try:
                self.probe_encoder = load_image_encoder(self.probe.encoder, device=device)
            except EmotionDirectorError as exc:
                raise ImageEvalError(
                    f"the probe was trained on '{self.probe.encoder}', which "
                    f"cannot be loaded here: {exc}"
                ) from None
        self._text: dict[str, Any] = {}

    def text(self, prompt: str) -> Any:
        if prompt not in self._text:
            self._text[prompt] = self.clip.texts([prompt])[0]
        return self._text[prompt]

    def score(
        self, images: list[Any], subject: str, control_subject: str | None, emotion: str
    ) -> list[dict[str, Any]]:
        import torch
        import torch.nn.functional as F

        features = self.clip.images(images)
        n = len(images)
        real = clip_score(features, self.text(subject).expand(n, -1))
        control = (
            None
            if control_subject is None
            else clip_score(features, self.text(control_subject).expand(n, -1))
        )
        probs = None
        if self.probe is not None:
            probe_in = (
                features
                if self.probe_encoder is None
                else F.normalize(self.probe_encoder(images).float(), dim=-1).cpu()
            )
            probs = self.probe.predict_proba(probe_in)
        out = []
        for i in range(n):
            record: dict[str, Any] = {
                "clip_score": round(float(real[i]), 4),
                "clip_score_control": None if control is None else round(float(control[i]), 4),
                "clip_features": base64.b64encode(
                    features[i].to(torch.float16).numpy().tobytes()
                ).decode(),
            }
            if probs is not None:
                p = probs[i]
                record.update(
                    {
                        "probs": [round(float(v), 5) for v in p],
                        "predicted": EMOTIONS[int(p.argmax())],
                        "true_class_prob": round(float(p[EMOTIONS.index(emotion)]), 5),
                    }
                )
            out.append(record)
        return out


def _load_pipeline(settings: ImageEvalSettings, device: str) -> Any:
    import torch

    from emotion_director.diffusion.pipeline import MCDiffusionPipeline

    dtype = torch.float16 if device.startswith("cuda") else None
    return MCDiffusionPipeline.from_pretrained(
        settings.model,
        bank=settings.bank,
        adapter_weights=settings.adapter,
        lora_weights=settings.lora,
        device=device,
        torch_dtype=dtype,
    )


def _generate(
    pipe: Any, row: dict[str, Any], indices: list[int], settings: ImageEvalSettings, visual: bool
) -> list[Any]:
    import torch

    generators = [
        torch.Generator(device="cpu").manual_seed(image_seed(settings.seed, row["case_id"], i))
        for i in indices
    ]
    kwargs: dict[str, Any] = dict(
        num_inference_steps=settings.steps,
        guidance_scale=settings.guidance_scale,
        num_images_per_prompt=len(indices),
        generator=generators,
        negative_prompt=row.get("negative_prompt") or None,
    )
    if settings.size:
        kwargs.update(height=settings.size, width=settings.size)
    if visual:
        negative = (row.get("meta") or {}).get("negative_emotion")
        return pipe(row["rewrite"], row["emotion"], negative_emotion=negative, **kwargs).images
    return pipe.pipeline(prompt=row["rewrite"], **kwargs).images  # plain text-to-image


def _control_subjects(rows: list[dict[str, Any]]) -> dict[str, str | None]:
    """Each subject's control: the next distinct subject of the run (a derangement); none when
    the run has a single subject."""
    subjects = list(dict.fromkeys(r["prompt"] for r in rows))
    if len(subjects) < 2:
        return {s: None for s in subjects}
    return {s: subjects[(i + 1) % len(subjects)] for i, s in enumerate(subjects)}


def run_image_eval(
    run_dir: str | Path,
    settings: ImageEvalSettings,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ImageEvalSummary:
    """Generate and score this process's share of the images; resume what is already done.

    Under ``accelerate launch`` each process takes every k-th case (all systems of a case on one
    process, so a case's images share a device) and appends to its own records file; the
    process waits for the others before returning, so the merged results are complete.
    """

    started = time.perf_counter()
    run = Path(run_dir)
    rows = select_items(run, settings)
    if settings.images_per_case < 1:
        raise ImageEvalError("--images-per-case must be at least 1.")
    import torch

    state = _distributed(cpu=settings.device == "cpu" or not torch.cuda.is_available())
    rank, world = (state.process_index, state.num_processes) if state is not None else (0, 1)
    device = _device(settings.device, state)
    folder = run / "images"
    folder.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        _check_config(folder, settings)
    if state is not None:
        state.wait_for_everyone()
    if rank != 0:
        _check_config(folder, settings)
    notes = []
    if not settings.bank:
        notes.append("no bank: every system generated as plain text-to-image")
    if not settings.probe:
        notes.append("no probe: emotion accuracy not computed")
    cases = list(dict.fromkeys(r["case_id"] for r in rows))
    mine = set(cases[rank::world])
    rows_mine = [r for r in rows if r["case_id"] in mine]
    controls = _control_subjects(rows)
    done = {(r["system"], r["case_id"], int(r["index"])) for r in read_image_records(run)}
    total = len(rows_mine) * settings.images_per_case
    counters = {"generated": 0, "reused": 0, "skipped": 0}
    todo = [
        (
            r,
            [
                i
                for i in range(settings.images_per_case)
                if (r["system"], r["case_id"], i) not in done
            ],
        )
        for r in rows_mine
    ]
    counters["skipped"] = total - sum(len(i) for _, i in todo)
    records_path = folder / f"records-rank{rank}.jsonl"
    if records_path.exists() and records_path.stat().st_size:
        with records_path.open("rb+") as handle:  # end a line cut by a crash
            handle.seek(-1, 2)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
    pipe = scorer = None
    finished = counters["skipped"]
    if progress:
        progress(finished, total)
    for row, indices in todo:
        if not indices:
            continue
        if scorer is None:
            scorer = _Scorer(settings, device)
        sub = folder / safe_name(row["system"])
        sub.mkdir(exist_ok=True)
        paths = {i: sub / f"{safe_name(row['case_id'])}-{i}.png" for i in indices}
        visual = bool(settings.bank) and row["system"].startswith(VISUAL_PROMPT_SYSTEMS)
        missing = [i for i in indices if not paths[i].is_file()]
        t0 = time.perf_counter()
        for start in range(0, len(missing), max(settings.batch_size, 1)):
            chunk = missing[start : start + settings.batch_size]
            if pipe is None:
                pipe = _load_pipeline(settings, device)
            for i, image in zip(chunk, _generate(pipe, row, chunk, settings, visual)):
                tmp = paths[i].with_suffix(".tmp.png")
                image.save(tmp)
                os.replace(tmp, paths[i])  # a PNG on disk is always whole
            counters["generated"] += len(chunk)
        counters["reused"] += len(indices) - len(missing)
        images = []
        for i in indices:
            images.append(open_rgb(paths[i], what="generated image"))
        scores = scorer.score(images, row["prompt"], controls[row["prompt"]], row["emotion"])
        seconds = round((time.perf_counter() - t0) / len(indices), 4)
        append_jsonl(
            records_path,
            [
                {
                    "system": row["system"],
                    "case_id": row["case_id"],
                    "index": i,
                    "path": str(paths[i].relative_to(run)),
                    "subject": row["prompt"],
                    "control_subject": controls[row["prompt"]],
                    "emotion": row["emotion"],
                    "rewrite": row["rewrite"],
                    "pipeline": "mc_diffusion" if visual else "text_to_image",
                    "seed": image_seed(settings.seed, row["case_id"], i),
                    "seconds": seconds,
                    **score,
                }
                for i, score in zip(indices, scores)
            ],
            what="image records file",
        )
        finished += len(indices)
        if progress:
            progress(finished, total)
    if settings.reference and rank == 0:
        if scorer is None:
            scorer = _Scorer(settings, device)
        _encode_reference(folder, settings, scorer)
    if state is not None:
        state.wait_for_everyone()
    return ImageEvalSummary(
        run,
        counters["generated"],
        counters["reused"],
        counters["skipped"],
        time.perf_counter() - started,
        rank,
        world,
        device,
        notes,
    )


# ---------------------------------------------------------------- summary and report
def _features(record: dict[str, Any]) -> Any:
    import numpy as np
    import torch

    raw = base64.b64decode(record["clip_features"])
    return torch.from_numpy(np.frombuffer(raw, dtype=np.float16).astype("float32"))


def summarise_images(records: list[dict[str, Any]], reference: Any = None) -> dict[str, Any]:
    """Per system: image metrics (mean and bootstrap CI over cases), controls, diversity; with
    ``reference`` features (:func:`read_reference`), each system's ``fd_clip`` and, as its
    control, ``fd_reference_halves``: the distance between the reference's even and odd
    images (what two samples of the same distribution score at this size)."""
    import torch

    from emotion_director.evals.tables import bootstrap_ci

    by_system: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_system[r["system"]].append(r)
    table: dict[str, dict[str, Any]] = {}
    per_emotion: dict[str, dict[str, float]] = {}
    for system, items in by_system.items():
        per_case: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for r in items:
            values = per_case[r["case_id"]]
            values["clip_score"].append(r["clip_score"])
            if r.get("clip_score_control") is not None:
                values["clip_score_control"].append(r["clip_score_control"])
            if "probs" in r:
                wrong = EMOTIONS[(EMOTIONS.index(r["emotion"]) + 1) % len(EMOTIONS)]
                values["emotion_accuracy"].append(float(r["predicted"] == r["emotion"]))
                values["true_class_prob"].append(r["true_class_prob"])
                values["probe_control_accuracy"].append(float(r["predicted"] == wrong))
        row: dict[str, Any] = {"images": len(items), "cases": len(per_case)}
        for metric in IMAGE_METRICS:
            case_means = [sum(v[metric]) / len(v[metric]) for v in per_case.values() if v[metric]]
            if case_means:
                row[metric] = bootstrap_ci(case_means)
        groups: dict[str, list[Any]] = defaultdict(list)
        for r in items:
            groups[r["emotion"]].append(_features(r))
        distances = [mean_pairwise_distance(torch.stack(f)) for f in groups.values() if len(f) > 1]
        row["diversity"] = sum(distances) / len(distances) if distances else float("nan")
        row["pipeline"] = ", ".join(sorted({r["pipeline"] for r in items}))
        if reference is not None and len(items) > 1:
            feats = torch.stack([_features(r) for r in items]).numpy()
            row["fd_clip"] = frechet_distance(feats, reference)
        table[system] = row
        if any("probs" in r for r in items):
            accuracy: dict[str, list[float]] = defaultdict(list)
            for r in items:
                if "probs" in r:
                    accuracy[r["emotion"]].append(float(r["predicted"] == r["emotion"]))
            per_emotion[system] = {e: sum(v) / len(v) for e, v in accuracy.items()}
    summary: dict[str, Any] = {
        "table": table,
        "per_emotion": per_emotion,
        "systems": list(by_system),
    }
    if reference is not None and len(reference) >= 4:
        summary["fd_reference_halves"] = frechet_distance(reference[::2], reference[1::2])
        summary["reference_images"] = len(reference)
    return summary


def write_grids(
    run_dir: str | Path,
    records: list[dict[str, Any]],
    *,
    max_cases: int | None = None,
    cell: int = 128,
    gap: int = 4,
) -> list[tuple[dict[str, Any], Path]]:
    """One PNG per case: a column per system (its images stacked), header with system names."""
    from PIL import Image, ImageDraw

    run = Path(run_dir)
    systems = list(dict.fromkeys(r["system"] for r in records))
    by_case: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        by_case[r["case_id"]][r["system"]].append(r)
    out_dir = run / "grids"
    out_dir.mkdir(exist_ok=True)
    written = []
    for case_id in list(by_case)[:max_cases]:
        columns = by_case[case_id]
        rows = max(len(v) for v in columns.values())
        header = 34
        width = cell * len(systems) + gap * (len(systems) - 1)
        grid = Image.new("RGB", (width, header + cell * rows), "white")
        draw = ImageDraw.Draw(grid)
        first = next(iter(columns.values()))[0]
        draw.text((4, 2), f"{first['subject']} -> {first['emotion']}"[:90], fill="black")
        for col, system in enumerate(systems):
            left = col * (cell + gap)
            draw.text((left + 4, 18), system[:20], fill="black")
            mine = sorted(columns.get(system, []), key=lambda r: r["index"])
            for row_i, record in enumerate(mine):
                path = run / record["path"]
                if not path.is_file():
                    continue
                thumb = open_rgb(path, what="generated image").resize((cell, cell), Image.NEAREST)
                grid.paste(thumb, (left, header + row_i * cell))
        path = out_dir / f"{safe_name(case_id)}.png"
        grid.save(path)
        written.append((first, path))
    return written


def _ci(value: Any) -> str:
    if value is None:
        return "-"
    mean, lo, hi = value
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def image_sections(run_dir: str | Path) -> tuple[str, str] | None:
    """Markdown and HTML sections for the report (``None`` when the run has no image records)."""
    run = Path(run_dir)
    records = read_image_records(run)
    if not records:
        return None
    reference = read_reference(run)
    summary = summarise_images(records, reference)
    write_text_atomic(
        run / "images" / "summary.json",
        json.dumps({k: v for k, v in summary.items()}, indent=2, default=str),
        what="image summary",
    )
    all_grids = write_grids(run, records)
    grids = all_grids[:GRIDS_IN_REPORT]
    with_fd = "fd_reference_halves" in summary
    head = ["system", "images", "pipeline", *IMAGE_METRICS, "diversity"]
    head += ["fd_clip"] if with_fd else []
    body = []
    for system, row in summary["table"].items():
        body.append(
            [
                system,
                str(row["images"]),
                row["pipeline"],
                *(_ci(row.get(m)) for m in IMAGE_METRICS),
                f"{row['diversity']:.3f}",
                *([f"{row['fd_clip']:.3f}" if "fd_clip" in row else "-"] if with_fd else []),
            ]
        )
    note = (
        "Emotion accuracy and true-class probability come from a linear probe on CLIP "
        "features (chance 0.125); `probe_control_accuracy` scores the same predictions "
        "against a wrong target and `clip_score_control` the same images against another "
        "case's subject: both should sit well below the real columns, or the probe / CLIP "
        "cannot be trusted. CLIPScore is against the original subject. Diversity is the mean "
        "pairwise CLIP distance (1 - cos) within an emotion."
    )
    if with_fd:
        note += (
            f" fd_clip is the Fréchet distance of a system's CLIP image features to "
            f"{summary['reference_images']} reference images (lower: closer to them); its "
            f"control, two halves of the reference against each other, is "
            f"{summary['fd_reference_halves']:.3f}. It uses the same formula as FID but CLIP "
            "features, not Inception's, so it is not comparable with published FID values."
        )
    md = ["", "## Images", "", note, "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    md += ["| " + " | ".join(r) + " |" for r in body]
    if summary["per_emotion"]:
        md += [
            "",
            "### Emotion accuracy per target emotion",
            "",
            "| system | " + " | ".join(EMOTIONS) + " |",
            "|---" * (len(EMOTIONS) + 1) + "|",
        ]
        for system, accs in summary["per_emotion"].items():
            md.append(
                f"| {system} | "
                + " | ".join(f"{accs[e]:.2f}" if e in accs else "-" for e in EMOTIONS)
                + " |"
            )
    md += [
        "",
        f"### Image grids (first {len(grids)} of {len(all_grids)} cases, all in grids/; "
        "systems side by side, the same seed per row)",
        "",
    ]
    md += [f"![{r['case_id']}]({p.relative_to(run)})" for r, p in grids]
    esc = html.escape
    parts = [
        "<h2>Images</h2>",
        f"<p>{markdown_inline(note)}</p>",
        "<table><thead><tr>"
        + "".join(f"<th>{esc(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in body)
        + "</tbody></table>",
        f"<h3>Image grids (first {len(grids)} of {len(all_grids)} cases, all in grids/)</h3>",
    ]
    for record, path in grids:
        encoded = base64.b64encode(path.read_bytes()).decode()
        parts.append(
            f"<figure><img alt='{esc(record['case_id'])}' "
            f"src='data:image/png;base64,{encoded}'><figcaption>{esc(record['subject'])}"
            f" &rarr; {esc(record['emotion'])}</figcaption></figure>"
        )
    return "\n".join(md) + "\n", "\n".join(parts)
