"""Deprecated: :class:`ImageGenerator` lives in :mod:`emotion_director.diffusion.generator`.

Renamed so it is not mistaken for the graph's tool wiring in ``emotion_director/graph/tools.py``.
Importing this module warns; every name still resolves to the same object.
"""

from emotion_director.deprecation import moved_module

moved_module(__name__, "emotion_director.diffusion.generator")
