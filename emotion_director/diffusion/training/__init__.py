"""Diffusion-DPO training of the visual prompt (bank, projector, visual K/V) with accelerate."""

from emotion_director.diffusion.training.config import ConfigError, DPOConfig, default_config_yaml
from emotion_director.diffusion.training.data import (
    DatasetError,
    load_records,
    make_toy_preferences,
)
from emotion_director.diffusion.training.loss import dpo_objective, preference_loss
from emotion_director.diffusion.training.trainer import DPOTrainer, ReferenceSwap, TrainablePrompt

__all__ = [
    "ConfigError",
    "DPOConfig",
    "DPOTrainer",
    "DatasetError",
    "ReferenceSwap",
    "TrainablePrompt",
    "default_config_yaml",
    "dpo_objective",
    "load_records",
    "make_toy_preferences",
    "preference_loss",
]
