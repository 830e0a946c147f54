"""Load personas: the shipped defaults, extended or overridden by a user's directory of YAML files.

Example:
    >>> from emotion_director.personas import load_personas
    >>> personas = load_personas()
    >>> len(personas) >= 6
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from emotion_director.errors import PersonaFileError
from emotion_director.personas.schema import Persona

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
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise PersonaFileError(
            f"{source}: invalid YAML{where}: {problem}. Fix the syntax (check indentation and quotes)."
        ) from None
    if not isinstance(data, dict):
        raise PersonaFileError(
            f"{source}: expected a mapping of persona fields (name, bio, temperament, taste, ...), "
            f"got {type(data).__name__}. See the files in emotion_director/personas/defaults/."
        )
    try:
        return Persona.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        hint = _FIELD_HINTS.get(err["type"], "")
        message = err["msg"].removeprefix("Value error, ")
        more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
        raise PersonaFileError(
            f"{source}: field '{field}': {message}{'; ' + hint if hint else ''}{more}."
        ) from None
    except ValueError as exc:  # an unknown emotion key, raised by our own validators
        raise PersonaFileError(f"{source}: {exc}") from None


def load_persona_file(path: str | Path) -> Persona:
    """Load and validate one persona YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PersonaFileError(f"{path}: no such persona file.") from None
    except IsADirectoryError:
        raise PersonaFileError(f"{path}: is a directory; pass a .yaml file.") from None
    except UnicodeDecodeError:
        raise PersonaFileError(f"{path}: not UTF-8 text; save the file as UTF-8.") from None
    return parse_persona(text, str(path))


def default_personas() -> list[Persona]:
    """The shipped personas, sorted by name."""
    folder = resources.files("emotion_director.personas").joinpath("defaults")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    return [parse_persona(f.read_text("utf-8"), f"defaults/{f.name}") for f in files]


def load_personas(
    directories: str | Path | Iterable[str | Path] | None = None,
    *,
    include_defaults: bool = True,
    names: Sequence[str] | None = None,
) -> list[Persona]:
    """The default personas, extended or overridden (by ``name``) by each user directory.

    Args:
        directories (`str`, `Path` or a list of them, *optional*): folders of ``*.yaml``/``*.yml``
            persona files. A file whose ``name`` matches a default replaces it.
        include_defaults (`bool`, *optional*, defaults to `True`): start from the shipped set.
        names (`list[str]`, *optional*): keep only these personas, in this order.

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
        for directory in directories:
            personas.update(_load_directory(Path(directory)))
    if not personas:
        raise PersonaFileError("no personas to use: add persona YAML files or keep the defaults.")
    if names:
        missing = [n for n in names if n not in personas]
        if missing:
            raise PersonaFileError(
                f"unknown persona(s) {', '.join(missing)}; available: {', '.join(sorted(personas))}."
            )
        return [personas[n] for n in dict.fromkeys(names)]
    return list(personas.values())


def _load_directory(directory: Path) -> dict[str, Persona]:
    if not directory.is_dir():
        raise PersonaFileError(
            f"{directory}: persona directory not found; pass a folder of persona .yaml files."
        )
    found: dict[str, Persona] = {}
    origin: dict[str, Path] = {}
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise PersonaFileError(f"{directory}: contains no .yaml persona files.")
    for path in files:
        persona = load_persona_file(path)
        if persona.name in found:
            raise PersonaFileError(
                f"{path}: persona name '{persona.name}' is also used by {origin[persona.name]}; "
                "give each persona a unique name."
            )
        found[persona.name] = persona
        origin[persona.name] = path
    return found
