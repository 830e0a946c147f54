"""What a run was made with, so that two runs are compared honestly and a resume cannot mix.

``run.json`` keeps an ``identity``: backend, model, server URL, the settings that change
outputs, the personas (names and a hash of their content), the seed, the package version and
the dataset (source, hash, case count). Resuming into a run folder made with another backend,
model, server, persona set, seed or dataset is refused with the fix (a new ``--out``);
``eval compare`` lists every difference between two runs and refuses when the same case id
means different cases.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from emotion_director.errors import EmotionDirectorError, RunMismatchError
from emotion_director.evals.datasets import EvalCase, dataset_hash
from emotion_director.files import read_json_file
from emotion_director.redaction import public_url, same_server  # noqa: F401 (its old home)

#: settings that change what a system writes (others, like timeouts, do not)
OUTPUT_SETTINGS = (
    "structured_method",
    "reading_mode",
    "grounding",
    "max_retries",
    "token_budget",
    "max_prompt_chars",
    "max_llm_calls",
)
#: identity fields that must match for a resume (a server's URL too: another server may serve
#: another model under the same name; its credentials are never kept)
RESUME_KEYS = ("backend", "model", "base_url", "personas_hash", "seed", "settings")


def package_version() -> str:
    try:
        return metadata.version("emotion-director")
    except metadata.PackageNotFoundError:
        return "unknown"


def model_name(settings: Any, backend: str) -> str:
    if backend == "embedded":
        if settings.model_path:
            return Path(settings.model_path).name
        try:
            from emotion_director.agents.embedded import default_gguf_path

            return default_gguf_path().name
        except EmotionDirectorError:
            return "default"
    if backend == "openai":
        return settings.model
    return backend


def _personas(settings: Any) -> tuple[list[str], str]:
    from emotion_director.personas.loader import load_personas

    personas = load_personas(settings.persona_dirs)
    digest = hashlib.sha256("\n".join(p.model_dump_json() for p in personas).encode()).hexdigest()[
        :16
    ]
    return [p.name for p in personas], digest


def run_identity(
    settings: Any, backend: str, cases: list[EvalCase], dataset: str | None = None
) -> dict[str, Any]:
    """The identity recorded in ``run.json`` (no secrets: the URL loses user, password, query)."""
    names, digest = _personas(settings)
    return {
        "backend": backend,
        "model": model_name(settings, backend),
        "base_url": public_url(settings.base_url) if backend == "openai" else None,
        "personas": names,
        "personas_hash": digest,
        "seed": settings.seed,
        "settings": {k: getattr(settings, k) for k in OUTPUT_SETTINGS},
        "package_version": package_version(),
        "dataset": {"source": dataset, "hash": dataset_hash(cases), "cases": len(cases)},
    }


def read_run_meta(run_dir: str | Path) -> dict[str, Any] | None:
    """``run.json`` of a run folder, or None when there is none."""
    path = Path(run_dir) / "run.json"
    if not path.exists():
        return None
    return read_json_file(
        path,
        fix="delete the run folder or pass a new --out",
        error=RunMismatchError,
    )


def _stored_identity(meta: dict[str, Any]) -> dict[str, Any]:
    """The identity of ``meta``; for runs made before identities, what their settings say."""
    if isinstance(meta.get("identity"), dict):
        return meta["identity"]
    settings = meta.get("settings") or {}
    if not isinstance(settings, dict):
        raise RunMismatchError(
            "run.json: 'settings' is not a JSON object: delete the run folder or pass a new --out."
        )
    return {
        "backend": settings.get("backend"),
        "model": settings.get("model") if settings.get("backend") == "openai" else None,
        "dataset": {"hash": meta.get("dataset_hash"), "cases": meta.get("cases")},
    }


def check_resume(
    run_dir: Path,
    meta: dict[str, Any],
    identity: dict[str, Any],
    cases: list[EvalCase],
    rows: list[dict[str, Any]],
) -> None:
    """Refuse to resume ``run_dir`` when it was made with other settings or other cases.

    Raises:
        RunMismatchError: names what differs and the fix.
    """
    stored = _stored_identity(meta)
    fix = f"pass a new --out folder (or delete {run_dir} to start it over)"
    for key in RESUME_KEYS:
        if (
            key in stored
            and stored[key] is not None
            and same_value(stored[key]) != same_value(identity.get(key))
        ):
            raise RunMismatchError(
                f"{run_dir} was made with {key} {_short(stored[key])}, this run uses "
                f"{_short(identity.get(key))}: {fix}."
            )
    source = (stored.get("dataset") or {}).get("source")
    if source and identity["dataset"]["source"] and source != identity["dataset"]["source"]:
        raise RunMismatchError(
            f"{run_dir} was made with dataset {source}, this run uses "
            f"{identity['dataset']['source']}: {fix}."
        )
    by_id = {c.id: c for c in cases}
    for row in rows:
        if not isinstance(row, dict):
            continue  # not a record: the report names it
        case = by_id.get(row.get("case_id"))
        stored_case = (row.get("prompt"), row.get("emotion"))
        if case is not None and stored_case != (case.prompt, case.emotion):
            raise RunMismatchError(
                f"{run_dir} has case '{case.id}' as {row.get('prompt')!r} -> {row.get('emotion')}, "
                f"the dataset has {case.prompt!r} -> {case.emotion}: another dataset; {fix}."
            )
    if (
        not source
        and not rows
        and (stored.get("dataset") or {}).get("hash") not in (None, identity["dataset"]["hash"])
    ):
        raise RunMismatchError(f"{run_dir} was made with another dataset: {fix}.")


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _persona_difference(a: list[Any], b: list[Any]) -> str:
    """Every persona name, in full: those only in A, only in B, and the shared ones."""
    only_a = [n for n in a if n not in b]
    only_b = [n for n in b if n not in a]
    shared = [n for n in a if n in b]
    parts = [f"A {', '.join(map(str, a)) or 'none'}", f"B {', '.join(map(str, b)) or 'none'}"]
    if only_a:
        parts.append(f"only in A: {', '.join(map(str, only_a))}")
    if only_b:
        parts.append(f"only in B: {', '.join(map(str, only_b))}")
    if not only_a and not only_b:
        parts.append(f"same {len(shared)} names in another order")
    return "personas: " + "; ".join(parts)


def same_value(value: Any) -> Any:
    """A value as two runs' identities are compared (a URL's trailing slash is no other
    server: ".../v1/" is ".../v1")."""
    return same_server(value) if isinstance(value, str) else value


def identity_differences(meta_a: dict[str, Any] | None, meta_b: dict[str, Any] | None) -> list[str]:
    """Lines naming what differs between two runs' identities (empty when nothing is known)."""
    if not meta_a or not meta_b:
        return []
    a, b = _stored_identity(meta_a), _stored_identity(meta_b)
    lines = []
    for key in ("backend", "model", "base_url", "personas", "seed", "settings", "package_version"):
        if key in a and key in b and same_value(a[key]) != same_value(b[key]):
            if key == "personas" and isinstance(a[key], list) and isinstance(b[key], list):
                lines.append(_persona_difference(a[key], b[key]))
            elif key == "settings" and isinstance(a[key], dict) and isinstance(b[key], dict):
                lines.extend(
                    f"setting {k}: A {_short(a[key].get(k))}, B {_short(b[key].get(k))}"
                    for k in sorted(a[key].keys() | b[key].keys())
                    if a[key].get(k) != b[key].get(k)
                )
            else:
                lines.append(f"{key}: A {_short(a[key])}, B {_short(b[key])}")
    if (
        "personas" in a
        and a.get("personas") == b.get("personas")
        and a.get("personas_hash")
        and b.get("personas_hash")
        and a["personas_hash"] != b["personas_hash"]
    ):
        lines.append("personas: the same names, edited content (persona files changed)")
    da, db = a.get("dataset") or {}, b.get("dataset") or {}
    if da.get("hash") and db.get("hash") and da["hash"] != db["hash"]:
        lines.append(
            f"dataset: A {da.get('source') or da['hash']} ({da.get('cases')} cases), "
            f"B {db.get('source') or db['hash']} ({db.get('cases')} cases)"
        )
    return lines
