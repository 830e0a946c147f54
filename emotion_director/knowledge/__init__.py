"""Emotion-concept knowledge: curated chains from appraisal to depictable visual concepts, and the
scene model that keeps them compatible with the prompt."""

from emotion_director.knowledge.concept_graph import (
    FACETS,
    Appraisal,
    ConceptGraph,
    VisualConcept,
    load_concept_graph,
    subject_tags,
)
from emotion_director.knowledge.scene import (
    EmotionalAttribute,
    SceneModel,
    SubjectEntity,
    contradiction,
    parse_scene,
    phrase_facts,
)

__all__ = [
    "FACETS",
    "Appraisal",
    "ConceptGraph",
    "EmotionalAttribute",
    "SceneModel",
    "SubjectEntity",
    "VisualConcept",
    "contradiction",
    "load_concept_graph",
    "parse_scene",
    "phrase_facts",
    "subject_tags",
]
