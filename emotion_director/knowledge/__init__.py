"""Emotion-concept knowledge: curated chains from appraisal to depictable visual concepts."""

from emotion_director.knowledge.graph import (
    FACETS,
    Appraisal,
    ConceptGraph,
    VisualConcept,
    load_concept_graph,
    subject_tags,
)

__all__ = [
    "FACETS",
    "Appraisal",
    "ConceptGraph",
    "VisualConcept",
    "load_concept_graph",
    "subject_tags",
]
