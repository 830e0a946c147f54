"""Settings: which language-model backend to use and the limits of a rewrite.

Values come from keyword arguments, then ``EMOTION_DIRECTOR_*`` environment variables, then the
defaults below. The CLI maps its flags onto the same fields.

Example:
    >>> from emotion_director import Settings
    >>> Settings(backend="openai", base_url="http://127.0.0.1:8000/v1").backend
    'openai'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as EnvParseError

from emotion_director.errors import SettingsError
from emotion_director.redaction import redact, redact_values, remember_secret, url_passwords

Backend = Literal["embedded", "openai", "test"]


class Settings(BaseSettings):
    """Run settings for MC-Agent (env prefix ``EMOTION_DIRECTOR_``)."""

    # a .env file in the working folder is read too (the environment wins over it); only its
    # EMOTION_DIRECTOR_* lines are ours: others (OPENAI_API_KEY, ...) belong to other programs
    model_config = SettingsConfigDict(
        env_prefix="EMOTION_DIRECTOR_",
        extra="forbid",
        env_file=".env",
        env_file_encoding="utf-8",
        allow_inf_nan=False,  # NaN and infinity are refused as such, not as "> 0" or "<= 10"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _PrefixedDotEnv(settings_cls), file_secret_settings)

    backend: Backend = Field(
        default="embedded",
        description="'embedded' (in-process GGUF, offline) or 'openai' (any OpenAI-compatible "
        "server: vLLM, llama.cpp server, OpenAI); 'test' is deprecated (tests pass "
        "chat_model=TestChatModel() from emotion_director.testing)",
    )
    model_path: Path | None = Field(
        default=None, description="GGUF file for the embedded backend (default: SmolLM2-135M)"
    )
    base_url: str | None = Field(default=None, description="OpenAI-compatible server URL (…/v1)")
    api_key: SecretStr | None = Field(default=None, description="API key for the server")
    model: str = Field(default="default", description="model name sent to the server")
    structured_method: Literal["function_calling", "json_schema", "json_mode"] = Field(
        default="function_calling",
        description="how the openai backend asks for structured output; llama.cpp's server "
        "needs 'function_calling', vLLM and OpenAI accept 'json_schema'",
    )
    reading_mode: Literal["auto", "choose", "write"] = Field(
        default="auto",
        description="'choose': persona agents pick cues from the concept graph (grammar-"
        "constrained, for small models); 'write': they write their own cues, grounded by the "
        "graph; 'auto': write on the openai backend, choose otherwise",
    )
    grounding: bool = Field(
        default=True,
        description="ground persona agents and the refiner on the concept graph (turning it off "
        "is an eval ablation; it implies reading_mode 'write')",
    )
    scene_critic: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="ask the run's model which picked cues contradict the scene, and leave them "
        "out (emotion_director.agents.critic: a call per rewrite); 'auto': on where the model "
        "writes (reading mode 'write') and is not the embedded one; 'on' also there",
    )
    scene_fit: bool = Field(
        default=False,
        description="also drop concepts that the learned scene-fit model (emotion_director."
        "scenefit) finds clashing with the scene (off by default: on 10 unseen scenes it caught "
        "real clashes but also dropped good palettes and took 2.4x the time; see the README); "
        "without its [scene] extra and MiniLM weights the word tables alone filter",
    )
    read_setting: bool = Field(
        default=True,
        description="read each scene's setting (time, season, weather, enclosure, kind of place) "
        "by meaning with MiniLM, so that concepts set where and when the scene is can join it "
        "(emotion_director.scenefit.SettingReader); without the [scene] extra and MiniLM "
        "weights, or off, a scene states only what the word tables parse, and concepts that "
        "bring in any other setting are left out",
    )
    read_risk: bool = Field(
        default=True,
        description="rank each scene's concepts by how often blind readers found similar "
        "phrases clashing with similar scenes (emotion_director.scenefit.ReaderRisk: MiniLM "
        "neighbours among the project's labelled end-to-end pairs); without the [scene] extra "
        "and MiniLM weights, or off, by the per-concept counts of the same labels alone",
    )
    recast_expressions: bool = Field(
        default=False,
        description="recast an expression of the subject that fights the target emotion ('a "
        "sobbing toddler' -> 'a giggling toddler' for amusement). Off by default: the subject "
        "stays as the user wrote it and the emotion comes from the added concepts, none of which "
        "draws a face of another feeling on it (blind readers called all 19 recasts they saw a "
        "clash with the scene, sets 1-64)",
    )
    timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=86400,
        description="total deadline of one request to the openai server, however slowly it "
        "answers (not a read timeout); at most a day (1e308 overflowed the clock, hostile "
        "round 5)",
    )
    max_tokens: int = Field(
        default=512,
        ge=16,
        le=32768,
        description="cap on the tokens the openai server may generate per call",
    )
    max_response_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="cap on one response body from the openai server",
    )
    max_concurrent_requests: int = Field(
        default=128,
        ge=1,
        le=4096,
        description="requests in flight to the openai backend (all runs of this process)",
    )
    max_llm_calls: int | None = Field(
        default=None,
        ge=1,
        description="LLM calls one run may make, retries included (None = no limit); parallel "
        "persona agents split what is left",
    )
    max_retries: int = Field(
        default=2, ge=0, le=10, description="retries of a call whose output is invalid"
    )
    persona_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="folders of persona YAML files added to the defaults; from the environment: "
        "one path, an os.pathsep-separated list (dir1:dir2), or a JSON list",
    )
    max_prompt_chars: int = Field(default=1000, ge=10, description="longest accepted prompt")
    token_budget: int = Field(
        default=70,
        ge=16,
        le=75,
        description="estimated CLIP tokens allowed in the final prompt (CLIP truncates at 77)",
    )
    n_threads: int | None = Field(default=None, ge=1, description="CPU threads (embedded)")
    seed: int = Field(default=0, description="default seed when the request gives none")
    checkpoint_db: Path = Field(
        default=Path(".emotion-director/checkpoints.sqlite"),
        description="SQLite file for durable runs (CLI --thread); PostgreSQL: pass your own "
        "checkpointer to build_graph",
    )
    checkpoint_url: str | None = Field(
        default=None,
        description="postgresql://user:password@host:5432/db: share durable runs between "
        "processes and machines (overrides checkpoint_db)",
    )
    review: bool = Field(
        default=False,
        description="pause after consensus (before image generation) for a person to approve, "
        "edit the prompt or drop readings; needs a checkpointer",
    )
    diffusion_model: str | None = Field(
        default=None, description="SD 1.5/SDXL diffusers folder or hub id; enables generate_image"
    )
    bank_path: str | None = Field(default=None, description="visual prompt bank (.safetensors)")
    adapter_path: str | None = Field(default=None, description="trained adapter (.safetensors)")
    images_dir: Path = Field(default=Path("outputs"), description="where images are written")
    device: str = Field(default="cpu", description="'cpu' or 'cuda' for image generation")
    steps: int = Field(default=30, ge=1, le=1000, description="denoising steps")
    visual_prompt_scale: float = Field(default=1.0, ge=0.0, description="visual branch weight")

    @field_validator("api_key", mode="before")
    @classmethod
    def _key_text(cls, value: Any) -> Any:
        """A key read from a file keeps no newline at its end; one with a control character
        inside is refused (an HTTP header cannot carry it: the request would fail as if no
        server answered)."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(text, str):
            return value
        text = text.strip()
        odd = next((i for i, c in enumerate(text) if not 32 <= ord(c) < 127), None)
        if odd is not None:  # an HTTP header carries printable ASCII only
            raise ValueError(
                f"has a character that is no printable ASCII at position {odd + 1} (a line "
                "break, or a '…' copied from a shortened key?): set the whole key alone"
            )
        return text

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError(
                "contains a control character (a line break?): write it on one line, e.g. "
                "http://127.0.0.1:8000/v1"
            )
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (e.g. http://127.0.0.1:8000/v1)")
        if value is not None:
            from urllib.parse import urlsplit

            try:  # a bad port or an unclosed [ipv6 bracket would otherwise fail deep in httpx
                parts = urlsplit(value)
                parts.port  # noqa: B018 (parses and range-checks the port)
            except ValueError as exc:
                raise ValueError(
                    f"is not a valid URL ({exc}); write it as "
                    "http://HOST:PORT/v1, e.g. http://127.0.0.1:8000/v1"
                ) from None
            if not parts.hostname:
                raise ValueError("has no host; write it as http://HOST:PORT/v1")
        return value

    @field_validator("persona_dirs", mode="before")
    @classmethod
    def _path_list(cls, value: Any) -> Any:
        """Accept a JSON list, one path, or an ``os.pathsep`` list (as ``PATH`` is written)."""
        if isinstance(value, (str, Path)):
            text = str(value).strip()
            if text.startswith("{"):  # a JSON object, not a folder named "{..."
                raise ValueError(
                    f'is a JSON object, not a list of folders: write ["dir1", "dir2"], or '
                    f"dir1{os.pathsep}dir2"
                )
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(
                        f'not a JSON list ({exc.msg}): write ["dir1", "dir2"], or '
                        f"dir1{os.pathsep}dir2"
                    ) from None
            else:
                value = [part for part in text.split(os.pathsep) if part.strip()]
        return value

    def model_post_init(self, context: Any, /) -> None:
        # secrets these settings hold are masked in every error, log line and stored record
        remember_secret(self.api_key)
        for url in (self.base_url, self.checkpoint_url):
            for secret in url_passwords(url):
                remember_secret(secret)

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, redact(value) if isinstance(value, str) else value

    def redacted_dump(self) -> dict[str, Any]:
        """The settings as JSON-ready values without the API key or any password (for records
        such as an eval's ``run.json``)."""
        return redact_values(json.loads(self.model_dump_json(exclude={"api_key"})))

    @property
    def effective_scene_critic(self) -> bool:
        """Whether a graph built with these settings alone (no model of the caller's) asks for
        the scene critique (:meth:`scene_critic_for`)."""
        return self.scene_critic_for(self.effective_reading_mode, self.backend)

    def scene_critic_for(self, mode: Literal["choose", "write"], backend: str) -> bool:
        """Whether a run in reading ``mode`` on a model of ``backend`` asks for the scene
        critique: ``scene_critic``, where 'auto' needs a writing model that is not the embedded
        one (the graph asks per run, with the run's model)."""
        if self.scene_critic != "auto":
            return self.scene_critic == "on"
        return mode == "write" and backend != "embedded"

    @property
    def effective_reading_mode(self) -> Literal["choose", "write"]:
        if not self.grounding:
            return "write"
        if self.reading_mode != "auto":
            return self.reading_mode
        return "write" if self.backend == "openai" else "choose"


class _PrefixedDotEnv(DotEnvSettingsSource):
    """``.env`` lines with the EMOTION_DIRECTOR_ prefix, read like environment variables; any
    other line (OPENAI_API_KEY, ...) is left to the programs it belongs to."""

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        prefix = (self.env_prefix or "").lower()
        ours = {k.lower()[len(prefix) :] for k in self.env_vars if k.lower().startswith(prefix)}
        return {k: v for k, v in data.items() if k in self.settings_cls.model_fields or k in ours}


#: Variables of the ``EMOTION_DIRECTOR_`` prefix that are read outside :class:`Settings`: the
#: command line's log level and debug switch, the tests' snapshot rewrite.
OTHER_VARIABLES = frozenset({"LOG_LEVEL", "DEBUG", "UPDATE_SNAPSHOTS"})


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line for each ``EMOTION_DIRECTOR_*`` variable that nothing reads, with the name it
    was probably meant to be (``EMOTION_DIRECTOR_TIMEOUT=5`` sets no timeout: it is
    ``EMOTION_DIRECTOR_TIMEOUT_S``), so that a misspelt setting is not silently ignored."""
    import difflib

    environ = os.environ if environ is None else environ
    known = {name.upper() for name in Settings.model_fields} | OTHER_VARIABLES
    lines = []
    for key in sorted(environ):
        if not key.startswith("EMOTION_DIRECTOR_"):
            continue
        name = key.removeprefix("EMOTION_DIRECTOR_")
        if name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        meant = f" (did you mean EMOTION_DIRECTOR_{close[0]}?)" if close else ""
        lines.append(f"{key} is no setting of this program and is ignored{meant}")
    return lines


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings`, turning validation errors into one actionable line.

    ``None`` values in ``overrides`` are ignored, so CLI flags that were not given keep the
    environment's or the default value.
    """
    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**values)
    except UnicodeDecodeError as exc:  # the one file settings read: .env in the working folder
        raise SettingsError(
            f"cannot read .env in {Path.cwd()}: it is not UTF-8 text (byte {exc.start} is "
            f"0x{exc.object[exc.start]:02x}); save it as UTF-8, or move it away."
        ) from None
    except EnvParseError as exc:  # an EMOTION_DIRECTOR_* variable that cannot be parsed
        raise SettingsError(
            f"cannot read the environment: {exc}; check the EMOTION_DIRECTOR_* variable it names."
        ) from None
    except ValidationError as exc:
        # every invalid setting at once, so a user fixes them all in one go, not one per run
        problems = [_setting_problem(e).removesuffix(".") for e in exc.errors()]
        raise SettingsError("; ".join(problems) + ".") from None


def _setting_problem(err: Any) -> str:
    """One pydantic error as ``invalid setting 'field' (flag or ENV_VAR): what is wrong.``"""
    field = ".".join(str(p) for p in err["loc"])
    if err["type"] == "literal_error" and field == "backend":
        return f"unknown backend {err['input']!r}: use one of embedded, openai, test."
    message = err["msg"].removeprefix("Value error, ")
    env = f"EMOTION_DIRECTOR_{str(err['loc'][0]).upper()}" if err["loc"] else "the environment"
    return f"invalid setting '{field}' (flag or {env}): {message}."
