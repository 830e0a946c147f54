"""Prompt-rewrite evals: datasets, systems (baselines and ablations), offline metrics, a cached and
resumable runner, and an HTML/Markdown report.

The metrics need the ``[eval]`` extra (MiniLM embeddings, the NRC lexicon, concreteness norms,
matplotlib); they are imported when used.
"""

from typing import TYPE_CHECKING

from emotion_director.lazy import lazy_exports

if TYPE_CHECKING:
    from emotion_director.evals.datasets import EvalCase, load_eval_dataset
    from emotion_director.evals.systems import SYSTEMS, register_system

# Loaded on first use: `eval report` and the rating page need neither the systems (LangChain,
# the graph) nor the datasets.
_LAZY = {
    "EvalCase": "emotion_director.evals.datasets",
    "load_eval_dataset": "emotion_director.evals.datasets",
    "SYSTEMS": "emotion_director.evals.systems",
    "register_system": "emotion_director.evals.systems",
}


__getattr__ = lazy_exports(globals(), _LAZY)


__all__ = ["SYSTEMS", "EvalCase", "load_eval_dataset", "register_system"]
