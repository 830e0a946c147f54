"""Prompt-rewrite evals: datasets, systems (baselines and ablations), offline metrics, a cached and
resumable runner, and an HTML/Markdown report.

The metrics need the ``[eval]`` extra (MiniLM embeddings, the NRC lexicon, concreteness norms,
matplotlib); they are imported when used.
"""

from emotion_director.evals.datasets import EvalCase, load_eval_dataset
from emotion_director.evals.systems import SYSTEMS, register_system

__all__ = ["SYSTEMS", "EvalCase", "load_eval_dataset", "register_system"]
