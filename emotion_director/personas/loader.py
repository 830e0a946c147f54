"""Load personas: the shipped defaults, extended or overridden by a user's directory of YAML files.

Example:
    >>> from emotion_director.personas import load_personas
    >>> personas = load_personas()
    >>> len(personas) >= 6
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from emotion_director.errors import EmotionDirectorError, PersonaFileError
from emotion_director.files import read_regular_file
from emotion_director.personas.schema import Persona

#: A persona file is a few KiB; anything far larger is not one (or is /dev/zero behind a link).
MAX_PERSONA_FILE_BYTES = 64 * 1024
#: Persona files nest three levels; deep nesting is an attack on the recursive YAML composer.
MAX_YAML_DEPTH = 32


class _DepthLimitedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses nesting deeper than :data:`MAX_YAML_DEPTH`."""

    _depth = 0

    def compose_node(self, parent: object, index: object) -> object:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.YAMLError(
                    f"nesting deeper than {MAX_YAML_DEPTH} levels at line {mark.line + 1}"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def flatten_mapping(self, node: Any) -> None:
        """A key written twice in one mapping is an error (PyYAML keeps the last: "weight:
        .nan" above "weight: 1.0" validated); a merged key (``<<``) may still be overridden.
        Checked the first time a mapping is flattened, before merges add their keys to it."""
        checked = self.__dict__.setdefault("_checked", set())
        if id(node) not in checked:
            checked.add(id(node))
            seen: dict[str, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                line = key_node.start_mark.line + 1
                if key_node.value in seen:
                    shown = _SHOWN_KEY.fullmatch(key_node.value)
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"{'key ' + repr(key_node.value) if shown else 'a key'} appears twice "
                        f"(lines {seen[key_node.value]} and {line}): keep one",
                        key_node.start_mark,
                    )
                seen[key_node.value] = line
        super().flatten_mapping(node)


_FIELD_HINTS = {
    "missing": "add it",
    "extra_forbidden": "remove it or check its spelling",
    "string_pattern_mismatch": "use lower-case letters, digits, '-' or '_'",
}


def parse_persona(text: str, source: str) -> Persona:
    """Parse one persona from YAML text; ``source`` names the file in error messages.

    Raises:
        PersonaFileError: the YAML is malformed or does not match :class:`Persona`; the message
            names the file, the field and the fix.
    """
    try:
        data = yaml.load(text, Loader=_DepthLimitedLoader)  # noqa: S506 (a SafeLoader)
    except ValueError as exc:  # an integer too long for Python to convert (over 4300 digits)
        raise PersonaFileError(
            f"{source}: YAML holds a number Python refuses to read ({str(exc)[:80]}); shorten "
            "it or quote it."
        ) from None
    except RecursionError:
        raise PersonaFileError(
            f"{source}: YAML nested too deeply; a persona file nests at most {MAX_YAML_DEPTH} "
            "levels."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc) or "malformed YAML"
        raise PersonaFileError(
            f"{source}: invalid YAML{where}: {problem}. "
            "Fix the syntax (check indentation and quotes)."
        ) from None
    if not isinstance(data, dict):
        raise PersonaFileError(
            f"{source}: expected a mapping of persona fields (name, bio, temperament, taste, ...), "
            f"got {type(data).__name__}. See the files in emotion_director/personas/defaults/."
        )
    try:
        return Persona.model_validate(data)
    except ValidationError as exc:
        problems = list(dict.fromkeys(_problem(err) for err in exc.errors()))
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        error = PersonaFileError(f"{source}: {problems[0]}{more}.")
        error.problems = [f"{source}: {p}." for p in problems]
        raise error from None
    except ValueError as exc:  # an unknown emotion key, raised by our own validators
        raise PersonaFileError(f"{source}: {exc}") from None


#: A key shown as written in an error: what a field name typed by hand looks like. Anything else
#: (a line of another file a link points to: "root:*:20228:0:99999:7::") is not echoed.
_SHOWN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_ -]{0,39}")


def _problem(err: Any) -> str:
    """One validation error as 'field ...: what is wrong; how to fix it'."""
    loc = [str(p) for p in err["loc"]]
    if err["type"] == "extra_forbidden" and loc and not _SHOWN_KEY.fullmatch(loc[-1]):
        where = ".".join(loc[:-1])
        return (
            f"a key that is no persona field{' under ' + repr(where) if where else ''} (not "
            "shown: it does not look like a field name); check that this is a persona file"
        )
    field = ".".join(loc) or "(top level)"
    hint = _FIELD_HINTS.get(err["type"], "")
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "list_type" and isinstance(err.get("input"), str):
        items = ", ".join(i.strip() for i in err["input"].split(",") if i.strip())
        message, hint = "expects a list", f"write [{items}]"
    return f"field '{field}': {message}{'; ' + hint if hint else ''}"


def load_persona_file(path: str | Path) -> Persona:
    """Load and validate one persona YAML file."""
    path = Path(path)
    try:
        data = read_regular_file(
            path, what="persona file", max_bytes=MAX_PERSONA_FILE_BYTES, error=PersonaFileError
        )
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PersonaFileError(f"{path}: not UTF-8 text; save the file as UTF-8.") from None
    return parse_persona(text, str(path))


def default_personas() -> list[Persona]:
    """The shipped personas, sorted by name (each call gets its own copies)."""
    return [persona.model_copy(deep=True) for persona in _shipped_personas()]


@lru_cache(maxsize=1)
def _shipped_personas() -> tuple[Persona, ...]:
    """The shipped files, parsed once: they are package data and do not change while the
    program runs, and parsing their YAML took 15-40 ms of every ``build_graph``."""
    folder = resources.files("emotion_director.personas").joinpath("defaults")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    return tuple(parse_persona(f.read_text("utf-8"), f"defaults/{f.name}") for f in files)


def load_personas(
    directories: str | Path | Iterable[str | Path] | None = None,
    *,
    include_defaults: bool = True,
    names: Sequence[str] | None = None,
    notices: list[str] | None = None,
) -> list[Persona]:
    """The default personas, extended or overridden (by ``name``) by each user directory.

    Args:
        directories (`str`, `Path` or a list of them, *optional*): folders of ``*.yaml``/``*.yml``
            persona files. A file whose ``name`` matches a default replaces it.
        include_defaults (`bool`, *optional*, defaults to `True`): start from the shipped set.
        names (`list[str]`, *optional*): keep only these personas, in this order.
        notices (`list[str]`, *optional*): receives one line per persona a user file replaces
            (a default or one from an earlier directory), for the caller to show.

    Raises:
        PersonaFileError: a directory is missing, a file is invalid, two files in one directory
            share a name, or a requested name does not exist.
    """
    personas: dict[str, Persona] = (
        {p.name: p for p in default_personas()} if include_defaults else {}
    )
    if directories is not None:
        if isinstance(directories, (str, Path)):
            directories = [directories]
        defaults = set(personas)
        for directory in directories:
            for name, (persona, path) in _load_directory(Path(directory)).items():
                if name in personas and notices is not None:
                    what = "the default persona" if name in defaults else "the persona"
                    notices.append(f"{path} overrides {what} '{name}'")
                personas[name] = persona
    if not personas:
        raise PersonaFileError("no personas to use: add persona YAML files or keep the defaults.")
    if names:
        missing = [n for n in names if n not in personas]
        if missing:
            raise PersonaFileError(
                f"unknown persona(s) {', '.join(m if m.strip() else repr(m) for m in missing)}; "
                f"available: {', '.join(sorted(personas))}."
            )
        return [personas[n] for n in dict.fromkeys(names)]
    return list(personas.values())


#: Suffixes of files a user may mean as persona files that are not read (``X.YAML``, ``x.json``).
_NEAR_MISSES = frozenset({".yaml", ".yml", ".json"})


def _unread_hint(folders: Iterable[Path]) -> str:
    """ " (X.YAML is not read: ...)" for files of ``folders`` a user may mean as persona files
    that are not read, or ""."""
    others = sorted(
        f.name
        for folder in folders
        if folder.is_dir()
        for f in folder.iterdir()
        if f.suffix.lower() in _NEAR_MISSES
    )
    if not others:
        return ""
    verb = "is" if len(others) == 1 else "are"
    return f" ({', '.join(others[:3])} {verb} not read: only *.yaml and *.yml, in lower case)"


def _load_directory(directory: Path) -> dict[str, tuple[Persona, Path]]:
    if directory.exists() and not directory.is_dir():
        raise PersonaFileError(
            f"{directory}: is a file, not a folder; pass the folder it is in (persona folders "
            "hold one .yaml file per persona)."
        )
    if not directory.is_dir():
        raise PersonaFileError(
            f"{directory}: persona directory not found; pass a folder of persona .yaml files."
        )
    found: dict[str, tuple[Persona, Path]] = {}
    files = persona_files(directory)
    if not files:
        raise PersonaFileError(
            f"{directory}: contains no .yaml persona files{_unread_hint([directory])}."
        )
    for path in files:
        persona = load_persona_file(path)
        if persona.name in found:
            raise PersonaFileError(
                duplicate_name_message(path, persona.name, found[persona.name][1])
            )
        found[persona.name] = (persona, path)
    return found


def persona_files(directory: Path) -> list[Path]:
    """The ``*.yaml`` / ``*.yml`` entries of ``directory``, sorted (not yet checked)."""
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def duplicate_name_message(path: Path, name: str, other: Path) -> str:
    return (
        f"{path}: persona name '{name}' is also used by {other}; give each persona a unique name."
    )


@dataclass
class PersonaFileCheck:
    """One file's verdict from :func:`check_persona_paths`: its persona's name, or its problems
    (every one, not only the first); ``overrides_default`` when a valid user file replaces a
    shipped persona."""

    path: Path
    name: str | None = None
    problems: list[str] = field(default_factory=list)
    overrides_default: bool = False


def check_persona_paths(paths: Iterable[Path]) -> list[PersonaFileCheck]:
    """Check persona files (a folder stands for its ``*.yaml``/``*.yml`` files), in order.

    A file is invalid when it does not load or when an earlier file already used its name (as
    :func:`load_personas` would refuse the set).

    Raises:
        PersonaFileError: the paths hold no persona file at all.
    """
    paths = list(paths)
    files = [f for p in paths for f in (persona_files(p) if p.is_dir() else [p])]
    if not files:
        raise PersonaFileError(f"no persona files found in the given paths{_unread_hint(paths)}.")
    defaults = {p.name for p in default_personas()}
    shipped = Path(str(resources.files("emotion_director.personas").joinpath("defaults")))
    seen: dict[str, Path] = {}
    checks = []
    for file in files:
        try:
            persona = load_persona_file(file)
            if persona.name in seen:
                raise PersonaFileError(
                    duplicate_name_message(file, persona.name, seen[persona.name])
                )
        except EmotionDirectorError as exc:
            problems = getattr(exc, "problems", None) or [str(exc)]
            checks.append(PersonaFileCheck(file, problems=list(problems)))
        else:
            seen[persona.name] = file
            own = file.resolve().parent == shipped.resolve()  # a shipped file is the default
            checks.append(
                PersonaFileCheck(
                    file, persona.name, overrides_default=persona.name in defaults and not own
                )
            )
    return checks
