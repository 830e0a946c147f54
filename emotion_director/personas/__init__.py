"""Personas: configurable people whose subjective readings the persona agents simulate."""

from emotion_director.personas.loader import (
    default_personas,
    load_persona_file,
    load_personas,
    parse_persona,
)
from emotion_director.personas.schema import Bio, Persona, Taste

__all__ = [
    "Bio",
    "Persona",
    "Taste",
    "default_personas",
    "load_persona_file",
    "load_personas",
    "parse_persona",
]
