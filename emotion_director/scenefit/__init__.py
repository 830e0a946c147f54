"""Scene fit: does a phrase clash with its scene? (see :mod:`emotion_director.scenefit.model`).

Needs numpy, tokenizers, safetensors and the MiniLM weights (``[embedded]`` extra); importing
this package loads none of them.
"""

from emotion_director.scenefit.model import SceneFit, SceneFitVerdict, load_dimensions
from emotion_director.scenefit.reader_risk import ReaderRisk
from emotion_director.scenefit.setting import SettingReader

__all__ = ["ReaderRisk", "SceneFit", "SceneFitVerdict", "SettingReader", "load_dimensions"]
