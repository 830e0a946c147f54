"""Import checks for the optional ``[diffusion]`` extra, with an install hint."""

from __future__ import annotations

import importlib.util

from emotion_director.errors import MissingExtraError

INSTALL_HINT = 'pip install "emotion-director[diffusion]"'


def require_diffusion() -> None:
    """Raise :class:`MissingExtraError` unless torch, diffusers, transformers and safetensors
    import."""
    missing = [
        name
        for name in ("torch", "diffusers", "transformers", "safetensors")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise MissingExtraError(
            f"MC-Diffusion needs {', '.join(missing)}: {INSTALL_HINT} "
            "(CPU machines: pip install torch==2.13.0 first)."
        )


require_diffusion()
