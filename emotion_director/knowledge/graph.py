"""Deprecated: the concept graph lives in :mod:`emotion_director.knowledge.concept_graph`.

Renamed so that "graph" alone always means the LangGraph graph. Importing this module warns;
every name still resolves to the same object.
"""

from emotion_director.deprecation import moved_module

moved_module(__name__, "emotion_director.knowledge.concept_graph")
