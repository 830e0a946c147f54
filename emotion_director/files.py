"""Reading the files a user points the program at: regular files only, capped, line by line.

A path can name a FIFO (the reader waits forever), ``/dev/zero`` (it never ends) or a file far
larger than anything the program means to hold. :func:`read_regular_file` opens it
non-blocking, checks what it is on the open descriptor (so a file swapped after a check is still
caught) and reads at most ``max_bytes``; :func:`text_lines` decodes it and refuses a line over
``max_line`` characters, naming the file and line. Every refusal is the caller's own error
class with a message that says what is wrong and what to do.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "cases.jsonl"
    >>> _ = p.write_text('{"a": 1}\\n\\n{"b": 2}\\n')
    >>> [(n, line) for n, line in text_lines(p, what="dataset")]
    [(1, '{"a": 1}'), (3, '{"b": 2}')]
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from emotion_director.errors import DataFileError

MiB = 1 << 20
#: Default caps: a data file, and one line of it (a prompt record is a few hundred bytes).
MAX_FILE_BYTES = 256 * MiB
MAX_LINE_CHARS = 64 * 1024
#: A line of a run file the program wrote itself (a result with its trace, a vector), and the
#: whole file (a long resumable run).
RUN_LINE_CHARS = 16 * MiB
RUN_FILE_BYTES = 4096 * MiB
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def read_regular_file(
    path: str | Path,
    *,
    what: str,
    max_bytes: int = MAX_FILE_BYTES,
    error: type[Exception] = DataFileError,
) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"{path}: {what} not found; check the path.") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder; pass the {_file(what)} itself.") from None
    except OSError as exc:  # ELOOP, EACCES, ...
        raise error(
            f"{path}: cannot open the {what} ({exc.strerror or exc}); fix the path or "
            "its permissions."
        ) from None
    info = os.fstat(fd)
    problem = None
    if stat.S_ISDIR(info.st_mode):
        problem = f"{path}: is a folder; pass the {_file(what)} itself."
    elif not stat.S_ISREG(info.st_mode):
        problem = (
            f"{path}: not a regular file (a pipe, device or socket); the {what} must be "
            "a plain file."
        )
    elif info.st_size > max_bytes:
        problem = (
            f"{path}: {info.st_size:,} bytes, over the {_limit(max_bytes)} limit for a "
            f"{what}; is it the right file?"
        )
    if problem:
        os.close(fd)
        raise error(problem)
    with os.fdopen(fd, "rb") as handle:
        # what fstat says it holds, plus one byte to see growth: read(max_bytes + 1) would ask
        # for a buffer of the cap (4 GiB for a run file), which a process with a memory limit
        # cannot have, to read a few kilobytes
        data = _read_at_most(handle, min(info.st_size, max_bytes) + 1)
        if len(data) > info.st_size:  # it grew while being read: read on, up to the cap
            data += _read_at_most(handle, max_bytes + 1 - len(data))
    if len(data) > max_bytes:  # it grew while being read
        raise error(f"{path}: over the {_limit(max_bytes)} limit for a {what}.")
    return data


def _read_at_most(handle: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``handle``, read in chunks of at most 64 MiB (a buffer grows
    with what is read, not with the limit)."""
    parts, left = [], limit
    while left > 0:
        chunk = handle.read(min(left, 64 * MiB))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _file(what: str) -> str:
    """What is read, as a file: "the config file", "the bank file"."""
    return what if what.endswith("file") else f"{what} file"


def _limit(max_bytes: int) -> str:
    """A size limit as people write it: "64 KiB", "1 MiB", else "1,000-byte"."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if max_bytes % size == 0:
            return f"{max_bytes // size:,} {unit}"
    return f"{max_bytes:,}-byte"


def read_text_file(
    path: str | Path,
    *,
    what: str,
    max_bytes: int = MAX_FILE_BYTES,
    error: type[Exception] = DataFileError,
) -> str:
    """:func:`read_regular_file` decoded as UTF-8 (a leading byte-order mark is dropped)."""
    data = read_regular_file(path, what=what, max_bytes=max_bytes, error=error)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: not UTF-8 text (byte {exc.start}); save the {what} as UTF-8."
        ) from None


def skip_rest_of_line(stream: Any, *, chunk: int = 64 * 1024, cap: int | None = None) -> bool:
    """Read and drop the rest of the line ``stream`` is in, ``chunk`` bytes at a time, so that
    memory stays bounded however long the line; ``False`` where ``cap`` bytes went by with no
    line break (an endless stream: ``< /dev/zero``), ``True`` at its end or the stream's."""
    skipped = 0
    while piece := stream.readline(chunk):
        if piece.endswith(b"\n"):
            return True
        skipped += len(piece)
        if cap is not None and skipped > cap:
            return False
    return True


def text_lines(
    path: str | Path,
    *,
    what: str,
    max_bytes: int = MAX_FILE_BYTES,
    max_line: int = MAX_LINE_CHARS,
    error: type[Exception] = DataFileError,
) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` for each non-blank line; a line over ``max_line`` characters
    is refused before anything parses it."""
    text = read_text_file(path, what=what, max_bytes=max_bytes, error=error)
    for number, line in enumerate(text.splitlines(), 1):
        if len(line) > max_line:
            raise error(
                f"{path}:{number}: a line of {len(line):,} characters, over the "
                f"{max_line:,}-character limit for a {what} line; is it the right file?"
            )
        if line.strip():
            yield number, line


_JSON_KINDS: dict[type, str] = {dict: "object", list: "list", str: "string"}


def json_error(exc: ValueError | RecursionError) -> str:
    """What ``json.loads`` found wrong, in a few words: its own message, a number too long for
    Python ("Exceeds the limit ..."), or nesting too deep."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, RecursionError):
        return "nested too deep"
    return str(exc).split(";")[0]


def parse_json(
    text: str | bytes,
    *,
    where: str,
    fix: str,
    kind: type = object,
    error: type[Exception] = DataFileError,
) -> Any:
    """``text`` parsed as JSON of type ``kind``, or ``error``: "WHERE is not valid JSON (why):
    FIX." or "WHERE must be a JSON object: FIX."."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise error(f"{where} is not valid JSON ({json_error(exc)}): {fix}.") from None
    if not isinstance(value, kind):
        raise error(f"{where} must be a JSON {_JSON_KINDS.get(kind, kind.__name__)}: {fix}.")
    return value


def read_json_file(path: str | Path, *, fix: str, error: type[Exception] = DataFileError) -> Any:
    """The JSON object in the file at ``path`` (:func:`read_text_file`, then :func:`parse_json`;
    ``fix`` ends every error)."""
    try:
        text = read_text_file(path, what=Path(path).name, error=error)
    except error as exc:  # not a regular file, too large, not UTF-8: the fix still applies
        raise error(f"{str(exc).rstrip('.')}; {fix}.") from None
    return parse_json(text, where=str(path), fix=fix, kind=dict, error=error)


def read_jsonl(
    path: str | Path,
    *,
    what: str,
    item: str = "record",
    torn: bool = False,
    max_bytes: int = MAX_FILE_BYTES,
    max_line: int = MAX_LINE_CHARS,
    error: type[Exception] = DataFileError,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of the JSONL file ``path``.

    The one reader of JSONL files, with :func:`text_lines`'s checks (a regular file, capped,
    UTF-8, lines capped). Two kinds of file:

    * a file the user wrote (``torn=False``): a line that is not JSON is an error that names
      the file, the line and what is wrong;
    * a run file the program appends to (``torn=True``: results, judgments, ratings, image
      records, vectors): a line that is not JSON is one a crash cut mid-write, and is skipped
      (what it held is redone); a file not there yet holds nothing.

    In both, a line of valid JSON that is not an object is no ``item`` (a crash does not write
    one): an error naming the line.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "results.jsonl"
        >>> _ = p.write_text('{"a": 1}\\n{"b": 2}\\n{"c": ')
        >>> list(read_jsonl(p, what="results file", torn=True))
        [(1, {'a': 1}), (2, {'b': 2})]
    """
    path = Path(path)
    if torn and not path.exists() and not path.is_symlink():
        return
    for number, line in text_lines(
        path, what=what, max_bytes=max_bytes, max_line=max_line, error=error
    ):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:  # (a 5,000-digit number is a ValueError)
            if torn:
                continue
            raise error(
                f"{path}:{number}: invalid JSON ({json_error(exc)}); fix or delete that line of "
                f"the {what}."
            ) from None
        if not isinstance(record, dict):  # valid JSON, so no crash cut it: refused either way
            raise error(
                f"{path}:{number}: not a {item} (expected a JSON object, got "
                f"{type(record).__name__}); fix or delete that line of the {what}."
            )
        yield number, record


def read_run_jsonl(
    path: str | Path, *, what: str, item: str = "record", error: type[Exception] = DataFileError
) -> Iterator[tuple[int, dict[str, Any]]]:
    """:func:`read_jsonl` for a run file the program appends to (results, judgments, ratings,
    image records, vectors): lenient on a line a crash cut, with the run files' caps."""
    return read_jsonl(
        path,
        what=what,
        item=item,
        torn=True,
        max_line=RUN_LINE_CHARS,
        max_bytes=RUN_FILE_BYTES,
        error=error,
    )


def check_output_path(
    path: str | Path, *, what: str, overwrite: bool, error: type[Exception] = DataFileError
) -> Path:
    """``path`` if the program may write a ``what`` there: not a device, FIFO or folder, and
    not an existing file unless ``overwrite``."""
    path = Path(path)
    if path.is_symlink() or path.exists():
        try:
            mode = path.lstat().st_mode
        except OSError as exc:
            raise error(f"{path}: cannot inspect ({exc.strerror or exc}).") from None
        if stat.S_ISLNK(mode):
            raise error(f"{path}: is a symlink; write the {what} to a plain file path.")
        if not stat.S_ISREG(mode):
            raise error(
                f"{path}: not a regular file (a folder, device or pipe); write the "
                f"{what} to a plain file path."
            )
        if not overwrite:
            raise error(
                f"{path} already exists: pass --overwrite to replace it, or choose another --out."
            )
    return path


def atomic_write(
    path: str | Path,
    write: Callable[[Path], object],
    *,
    what: str,
    overwrite: bool = True,
    error: type[Exception] = DataFileError,
) -> Path:
    """Call ``write(temporary path)`` in ``path``'s folder, then rename it onto ``path``: a
    crash leaves the old file or the new one, never half of one, and a device or FIFO at
    ``path`` is refused, never replaced."""
    path = check_output_path(path, what=what, overwrite=overwrite, error=error)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(
    path: str | Path, text: str, *, what: str, error: type[Exception] = DataFileError
) -> Path:
    """:func:`atomic_write` of ``text`` (UTF-8) to ``path``, replacing a regular file there: for
    the files a run keeps regenerating (run.json, summaries, identities)."""
    return atomic_write(
        path, lambda tmp: tmp.write_text(text, encoding="utf-8"), what=what, error=error
    )


def write_safetensors(
    path: str | Path,
    tensors: dict[str, Any],
    *,
    what: str,
    metadata: dict[str, str] | None = None,
    overwrite: bool = True,
    error: type[Exception] = DataFileError,
) -> Path:
    """:func:`atomic_write` of ``tensors`` as a safetensors file (banks, probes, adapters,
    caches): a crash leaves the old file or the new one, and a symlink there is refused. The
    tensors are written contiguous (safetensors refuses a strided view)."""
    from safetensors.torch import save_file

    contiguous = {name: tensor.contiguous() for name, tensor in tensors.items()}
    return atomic_write(
        path,
        lambda tmp: save_file(contiguous, str(tmp), metadata=metadata),
        what=what,
        overwrite=overwrite,
        error=error,
    )


def load_safetensors(
    path: str | Path, *, what: str, hint: str, error: type[Exception] = DataFileError
) -> tuple[dict[str, str], dict[str, Any]]:
    """The string header and the tensors of the safetensors file at ``path`` (one open, so the
    two agree), or ``error`` naming the file: "``what`` PATH not found: ``hint``." when there is
    no file, and what is wrong when it is not a safetensors file (a pickle is never loaded)."""
    from safetensors import safe_open

    path = Path(path)
    if path.is_dir():
        raise error(f"{what} {path} is a folder, not a file: give a .safetensors file ({hint}).")
    if path.exists() and not path.is_file():  # a device, a FIFO, a socket
        raise error(f"{what} {path} is not a regular file: give a .safetensors file ({hint}).")
    if not path.is_file():
        raise error(f"{what} {path} not found: {hint}.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}, {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # safetensors raises several types for a damaged header
        detail = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise error(
            f"{path}: not a readable {what} ({detail}): it must be a .safetensors file; pickles "
            "are never loaded."
        ) from None


#: What one image the program reads may be: a regular file of at most this many bytes and
#: this many pixels, checked before decoding (a 30k x 30k PNG would take gigabytes).
MAX_IMAGE_BYTES = 64 << 20
MAX_IMAGE_PIXELS = 64_000_000


def read_rgb_image(
    path: str | Path,
    *,
    what: str,
    error: type[Exception] = DataFileError,
    max_pixels: int | None = None,
) -> Any:
    """The RGB image at ``path``: a regular file (a FIFO or device is refused, not read) of at
    most ``MAX_IMAGE_BYTES`` and ``max_pixels`` (``MAX_IMAGE_PIXELS``), or ``error`` naming
    it. Needs Pillow (the diffusion and eval extras)."""
    from PIL import Image, UnidentifiedImageError

    limit = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    data = read_regular_file(path, what=what, max_bytes=MAX_IMAGE_BYTES, error=error)
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > limit:
                raise error(
                    f"{path}: {width} x {height} pixels is more than {limit:,}: downscale the "
                    f"{what} or leave it out."
                )
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise error(f"{path}: cannot read the {what} ({exc}); remove or replace it.") from None


def make_output_dir(path: str | Path, *, what: str) -> Path:
    """``path`` as a folder the program can write a ``what`` into, made (with its parents) now.

    Raises:
        OutputDirError: ``path`` or a parent is a file, device or pipe, or cannot be created
            (a read-only or virtual file system such as /proc); the message names the cause.
    """
    from emotion_director.errors import OutputDirError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputDirError(
            f"{path}: exists and is not a folder (a file, device or pipe); "
            f"pass a new folder for the {what}."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputDirError(
            f"{path}: cannot create the folder for the {what} "
            f"({exc.strerror or exc}); pass a writable folder."
        ) from None
    return path


@contextlib.contextmanager
def exclusive_lock(
    path: str | Path,
    *,
    busy: Callable[[str], Exception],
    error: type[Exception] = DataFileError,
    fix: str = "make its folder writable",
) -> Iterator[None]:
    """Hold the lock file ``path`` for this process while the block runs, or raise ``busy(
    holder)`` at once where another process holds it (``holder``: " (pid N)" or ""). Two
    processes writing one run folder would each append the same cases (``eval run`` twice on
    one ``--out``). The lock is a regular file opened without following a link (a planted
    symlink must not truncate the file it points to); a FIFO, a device or a hard link there is
    refused with ``error``; one that cannot be created is named with ``fix``."""
    path = Path(path)
    try:
        fd = os.open(
            path,
            os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0),
            0o600,
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise error(
                f"the lock {path} is a symlink, which a lock never is: remove it and run again."
            ) from None
        raise error(f"cannot create the lock {path} ({exc.strerror or exc}): {fix}.") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise error(
                f"the lock {path} is not a regular file (a FIFO or a device?): remove it and run "
                "again."
            )
        if status.st_nlink > 1:  # a hard link planted there: truncating it truncates its twin
            raise error(
                f"the lock {path} is a hard link to another file, which a lock never is: remove "
                "it and run again."
            )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise busy(f" (pid {holder})" if holder.isdigit() else "") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def append_jsonl(
    path: str | Path,
    records: Iterable[Any],
    *,
    what: str,
    error: type[Exception] = DataFileError,
) -> None:
    """Append ``records`` to the JSONL file ``path``, one line each, in one write.

    The run files (results, vectors, judgments, ratings, image records) are append-only: a crash
    loses at most the lines in flight, never one already written. The file is opened without
    following a link and must be a regular file (a FIFO there would block for good; a link
    would write elsewhere); the lines go in one ``write`` of an ``O_APPEND`` descriptor under
    an exclusive ``flock``, so two writers never interleave inside a line, and a last line a
    crash cut is ended first, so the new record is not glued onto it.
    """
    data = "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")
    path = Path(path)
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0), 0o644)
    except OSError as exc:
        raise error(
            f"{path}: cannot append to the {what} ({exc.strerror or exc}): it must be a regular "
            "file (not a link, pipe or folder) in a writable folder."
        ) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise error(
                f"{path}: the {what} is not a regular file (a pipe or device); remove it and "
                "run again."
            )
        # one writer at a time between looking at the last byte and writing (another
        # writer's line in flight would look like a cut one); the lock goes with the descriptor
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # the last line was cut by a crash: end it, so this record is not glued onto it
            data = b"\n" + data
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)


def load_shipped_yaml(text: str) -> Any:
    """The YAML of a data file the package ships (trusted, and read at every start): libyaml's
    C loader where PyYAML was built with it, ~5x faster than the pure-Python one (the concept
    graph's 8 files took 0.9 s of a 3.6 s CLI rewrite), else the safe Python loader. A user's
    files go through the depth-limited loader of ``personas.loader`` instead."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
