"""Fitting the subject to the target emotion: a stated expression of another feeling is recast
(:func:`fit_subject`), a long scene condensed to its subject, and the scene's facts read once
(:func:`scene_facts`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from emotion_director.knowledge.scene.conflicts import _FUNCTION_WORDS, phrase_facts
from emotion_director.knowledge.scene.lexicon import (
    _WORD,
    _curated_states,
    adjectives,
    attribute_concreteness,
    curated_moods,
    curated_subjects,
    mood_of,
    names_the_thing,
    singular,
)
from emotion_director.knowledge.scene.model import EmotionalAttribute, SceneModel, SubjectEntity
from emotion_director.knowledge.scene.parse import parse_scene
from emotion_director.knowledge.scene.vocabulary import (
    _DETERMINERS,
    _EMPTY,
    _LOCATIVE,
    ANIMATE_KINDS,
    BODY_FACTS,
)
from emotion_director.untrusted import strip_end


def scene_facts(text: str) -> frozenset[str]:
    """Shorthand: the facts of ``parse_scene(text)``."""
    return parse_scene(text).facts


#: How an expression is recast toward each target: (for people, for animals).
RECAST: dict[str, tuple[str, str]] = {
    "amusement": ("giggling", "romping"),
    "awe": ("wide-eyed", "wide-eyed"),
    "contentment": ("smiling", "drowsy"),
    "excitement": ("cheering", "bounding"),
    "anger": ("scowling", "snarling"),
    "disgust": ("grimacing", "recoiling"),
    "fear": ("trembling", "cowering"),
    "sadness": ("weeping", "whimpering"),
}


POSITIVE = frozenset({"amusement", "awe", "contentment", "excitement"})


#: Estimated CLIP tokens the subject may keep, so concepts still fit in the 77-token window.
SUBJECT_TOKEN_BUDGET = 40


class SceneAdjustment(BaseModel):
    """What was changed in the user's prompt to fit the target emotion, and why."""

    model_config = ConfigDict(frozen=True)

    action: Literal["recast", "negative", "condensed"]
    text: str = Field(description="the words of the prompt concerned")
    replacement: str | None = Field(default=None, description="what they became (recast)")
    reason: str


def conflicts_with_target(attribute: EmotionalAttribute, target: str) -> bool:
    """Whether an attribute of the subject fights the target emotion."""
    if not attribute.emotions or target in attribute.emotions:
        return False
    if attribute.expression:
        return True
    from emotion_director.emotions import EMOTION_WORDS

    if attribute.word in EMOTION_WORDS:
        return True
    descriptive = set(curated_subjects().get("descriptive", []))
    if attribute.word in descriptive:
        return False
    # a curated dramatic state ("burning", "collapsing") still fights a positive target
    if attribute.word not in _curated_states() and _describes_the_scene(attribute.word):
        return False
    # a lexicon word only counts when all its emotions sit on the other side of valence
    return all((e in POSITIVE) != (target in POSITIVE) for e in attribute.emotions)


def stated_expression(scene: SceneModel, owner: SubjectEntity | None) -> EmotionalAttribute | None:
    """The expression the scene states of ``owner`` ("laughing", "sulking", "yawning", "cries"),
    all its expressions' feelings together ("a tearful, smiling bride"), or ``None``: the
    subject's face is the user's (see :meth:`~emotion_director.knowledge.concept_graph.
    VisualConcept.face_conflict`). An expression that names no owner is the first living
    subject's ("fishermen laughing"); one of a subject joined to ``owner`` by "and" is theirs
    too ("a man and a woman laughing")."""
    return _own_feeling(scene, owner, moods=False)


def stated_feeling(scene: SceneModel, owner: SubjectEntity | None) -> EmotionalAttribute | None:
    """The feelings the scene states of ``owner``: its expressions (:func:`stated_expression`)
    and the mood words the user gave it ("a nervous best man", "a furious commuter", "a bored
    intern": ``subjects.yaml``'s ``moods``; not any word the NRC lexicon gives a feeling, "a
    venerable monk" and "a lesser kestrel" state none, nor the emotion vocabulary's words for how
    a thing strikes the viewer, "a scary clown"), all together; ``None`` when it states none. A
    mood is the subject's only where the parser gives it that owner ("a lonely road, a man
    walking" is the road's loneliness), or a subject joined to it by "and".

    The subject's face is the user's either way (see :meth:`~emotion_director.knowledge.
    concept_graph.VisualConcept.face_conflict`): in the blind labels of sets 74-81, a face or
    posture of another feeling on a stated mood clashed all eight times it was drawn ("the man's
    long exhale, shoulders loose" for a nervous best man, an awed gaze for a furious commuter, a
    whoop for an anxious groom). Where the mood fights the target it also leaves the prompt for
    the negative one (:func:`fit_subject`): the picture then shows neither that mood nor a face
    of another feeling, and the target comes from light, colour, setting and framing."""
    return _own_feeling(scene, owner, moods=True)


def _own_feeling(
    scene: SceneModel, owner: SubjectEntity | None, *, moods: bool
) -> EmotionalAttribute | None:
    if owner is None or owner.kind not in ANIMATE_KINDS:
        return None
    first = next((e for e in scene.entities if e.kind in ANIMATE_KINDS), None)
    name = re.escape(owner.noun.split()[-1])
    lowered = scene.text.lower()

    def joined(noun: str) -> bool:
        other = re.escape(noun.split()[-1])
        return (
            re.search(rf"\b{name}\s+(?:and|&)\s+(?:[a-z'-]+\s+){{0,3}}{other}\b", lowered)
            is not None
        )

    def own(attribute: EmotionalAttribute) -> bool:
        if attribute.owner is None:
            # an expression with no owner is the first living subject's ("fishermen laughing");
            # a mood with none may be a place's ("a lonely road, a man walking")
            return attribute.expression and owner is first
        return attribute.owner == owner.noun or joined(attribute.owner)

    shown = [
        a
        for a in scene.attributes
        if (a.expression or (moods and a.emotions and mood_of(a.word) is not None)) and own(a)
    ]
    if not shown:
        return None
    feelings = list(dict.fromkeys(e for a in shown for e in a.emotions))
    return shown[0].model_copy(update={"emotions": feelings})


#: Concreteness (1-5) from which a modifier shows what is there rather than a feeling.
CONCRETE_MIN = 3.5


def _describes_the_scene(word: str) -> bool:
    """Whether a modifier of the prompt says what the scene is like, not how to feel about it:
    it shows a thing ("muddy", "frozen", "dusty": concrete) or states a fact of the setting
    ("scorching": hot; "deserted": no one there). Such a word stays in the subject whatever
    emotion it carries: "a muddy cliff road" is muddy for excitement too."""
    lowered = word.lower()
    return (
        attribute_concreteness().get(lowered, 0.0) >= CONCRETE_MIN
        or lowered in _EMPTY
        or bool(phrase_facts(lowered) - BODY_FACTS)
    )


def _is_stated_action(word: str, scene: SceneModel, text: str) -> bool:
    """Whether ``word`` is a verb the prompt states of one of its subjects: an ``-ing`` form
    right after a subject's noun ("a child flying a kite", "birds flying south"), not an emotion
    word ("a rotting apple", "firefighters at a burning house" describe a thing). Removing such
    a word would change what happens in the scene and leave a broken sentence ("a child a
    kite")."""
    from emotion_director.emotions import emotion_words_in

    lowered = word.lower()
    if not lowered.endswith("ing") or emotion_words_in(lowered):
        return False
    at = re.search(rf"\b{re.escape(lowered)}\b", text.lower())
    if at is None:
        return False
    previous = re.findall(r"[a-z]+", text.lower()[: at.start()])[-1:]
    # a subject's noun, or its last word ("a wide pan of paella simmering")
    nouns = {n for e in scene.entities if e.noun for n in (e.noun.lower(), e.noun.split()[-1])}
    if previous and (previous[0] in nouns or previous[0].rstrip("s") in nouns):
        return True
    # or a verb by its grammar, whoever does it: an -ing word after a word and before a
    # preposition or a determiner says what someone does ("a streamer yelling into his headset",
    # whose first noun no table knows as a person); one that describes a thing comes before it
    # ("a burning house")
    following = re.findall(r"[a-z]+", text.lower()[at.end() :])[:1]
    return bool(previous) and bool(following) and following[0] in _VERB_FOLLOWERS


#: Words after which an -ing word is a verb: a preposition or a determiner ("yelling into his
#: headset", "shouting at a taxi", "crying for her mother").
_VERB_FOLLOWERS = (
    _LOCATIVE | _DETERMINERS | frozenset("to from for about with toward towards".split())
)


#: Adverbs in -s, which are no plural object ("crying always", "laughing indoors").
_S_ADVERBS = frozenset(
    "always sometimes afterwards indoors outdoors upstairs downstairs backwards forwards "
    "towards besides nowadays perhaps sideways overseas".split()
)


def _takes_an_object(word: str, scene: SceneModel, text: str) -> bool:
    """Whether ``word`` is a subject's verb used with an object in ``text``: it follows one of
    the scene's subjects (:func:`_is_stated_action`), and the next word opens a noun phrase (a
    determiner: "a man yelling a warning") or is a plural ("an auctioneer shouting bids"). Not
    "a woman shouting at a taxi", "a child sobbing quietly", "a child crying alone", "a sobbing
    toddler": those are still recast. A recast would leave an object hanging: "an auctioneer
    smiling bids"."""
    if not _is_stated_action(word, scene, text):
        return False
    lowered = word.lower()
    match = re.search(rf"\b{re.escape(lowered)}\b\s+([a-z][a-z'-]*)", text.lower())
    if match is None:
        return False
    following = match.group(1)
    if following in _DETERMINERS:
        return True
    return (
        following.endswith("s")
        and not following.endswith(("ss", "us", "ly"))
        and following not in _S_ADVERBS
        and following not in _FUNCTION_WORDS
        and following not in _LOCATIVE
    )


def fit_subject(
    scene: SceneModel,
    subject: str,
    target: str,
    *,
    token_budget: int = SUBJECT_TOKEN_BUDGET,
    recast: bool = False,
) -> tuple[str, list[SceneAdjustment], list[str]]:
    """The subject text fitted to ``target``: other conflicting attributes moved to the negative
    prompt, long prompts condensed; with ``recast``, conflicting expressions recast too.

    An expression is the subject's own state as the user wrote it: by default it stays, and the
    concept graph draws no face of another feeling on the subject (:meth:`~emotion_director.
    knowledge.concept_graph.VisualConcept.face_conflict`); blind readers called every recast they
    saw a clash with the scene (19 of 19, sets 1-64: "fishermen laughing" made "fishermen
    scowling").

    Returns the new subject, what was done (for the trace) and the terms for the negative prompt.

    Example:
        >>> scene = parse_scene("a sobbing toddler")
        >>> fit_subject(scene, "a sobbing toddler", "amusement")[0]
        'a sobbing toddler'
        >>> fit_subject(scene, "a sobbing toddler", "amusement", recast=True)[0]
        'a giggling toddler'
    """
    from emotion_director.clip_bpe import estimate_clip_tokens

    adjustments: list[SceneAdjustment] = []
    negatives: list[str] = []
    text = subject
    if not scene.english:
        return text, adjustments, negatives
    for attribute in scene.attributes:
        if not conflicts_with_target(attribute, target):
            continue
        if attribute.word in scene.actions:
            continue  # what the subject is doing ("a night porter dozing"), not a mood to recast
        pattern = re.compile(rf"\b{re.escape(attribute.word)}\b", re.IGNORECASE)
        if not pattern.search(text):
            continue
        owner = next((e for e in scene.entities if e.noun == attribute.owner), None) or next(
            (e for e in scene.entities if e.kind in ANIMATE_KINDS), None
        )
        shown = "/".join(attribute.emotions)
        if attribute.expression and _takes_an_object(attribute.word, scene, text):
            continue  # "an auctioneer shouting bids": what the subject does ("smiling bids")
        if attribute.expression and owner is not None and owner.kind in ANIMATE_KINDS:
            if not recast:
                continue  # the subject's own state, as the user wrote it
            person = "person" in owner.facts
            new = RECAST[target][0 if person else 1]
            text = pattern.sub(new, text, count=1)
            adjustments.append(
                SceneAdjustment(
                    action="recast",
                    text=attribute.word,
                    replacement=new,
                    reason=f"'{attribute.word}' shows {shown}, recast toward {target}",
                )
            )
        else:
            if _is_stated_action(attribute.word, scene, text):
                continue  # "a child flying a kite": the scene's action, not a mood to remove
            if names_the_thing(attribute.word, text):
                continue  # "a comic book", "a horror film", "a fear of heights": the thing
            text = drop_hanging(_without(text, attribute.word))
            negatives.append(attribute.word)
            adjustments.append(
                SceneAdjustment(
                    action="negative",
                    text=attribute.word,
                    reason=f"'{attribute.word}' evokes {shown}, against {target}: moved to the "
                    "negative prompt",
                )
            )
    text = _tidy(text)
    if estimate_clip_tokens(text) > token_budget:
        text, dropped = _condense(text, scene, token_budget)
        adjustments += [
            SceneAdjustment(
                action="condensed",
                text=d,
                reason="detail without a subject, dropped to fit CLIP's 77 tokens",
            )
            for d in dropped
        ]
    return text, adjustments, negatives


_DETERMINER_WORDS = r"(?:a|an|the|his|her|their|its|my|our)"


#: A preposition that takes a feeling as its object, with the article or possessive between
#: ("in despair", "in a rage", "lost in her grief", "full of joy", "with pride").
_HOLDS_FEELING = re.compile(
    rf"(?:^|\s)((?:lost in|full of|filled with|in|with|of)(?:\s+{_DETERMINER_WORDS})?)\s+$",
    re.IGNORECASE,
)
#: What may follow a phrase that a removed feeling ended: a mark, the end, "and" or another
#: preposition ("a woman in despair on a bridge"; not "with angry eyes", whose noun stays).
_PHRASE_ENDS = re.compile(
    r"\s*(?:[,;:.!?]|$)|\s+(?:in|on|at|by|under|over|during|for|near|beside|and)(?![\w-])",
    re.IGNORECASE,
)


def held_from(before: str, after: str, word: str = "") -> int:
    """Where the text to remove starts, for a feeling word removed from between ``before`` and
    ``after``: at the preposition (and article) that held it where the word ended their phrase
    ("a woman in despair on a bridge" -> "a woman on a bridge", "a man in a rage at the till" ->
    "a man at the till"), else at the word itself (``len(before)``). An adjective ``word`` ends
    no phrase: others may follow it ("a portrait of a sad, old man")."""
    held = _HOLDS_FEELING.search(before)
    if held is None or not _PHRASE_ENDS.match(after):
        return len(before)
    if word.lower() in adjectives() or word.lower() in curated_moods():
        return len(before)
    return held.start(1)


def _without(text: str, word: str) -> str:
    """``text`` without the first ``word``, and without the "and" or "or" that paired it with
    another describing word: where it opens the pair after the start, a comma or a determiner
    ("Nervous and pale, a schoolgirl" -> "Pale, a schoolgirl"; "a gloomy and cold street" -> "a
    cold street"), or closes a pair before a comma or the end ("a dog, wet and angry, by the
    door" -> "a dog, wet, by the door"; but "mouldy durian and rotting shrimp" keeps its
    "and"). A text that began with a capital still does."""
    w = re.escape(word)
    first = re.search(rf"\b{w}\b", text, re.IGNORECASE)
    if first is None:
        return text
    opened = re.compile(
        rf"(^\s*|,\s*|\b{_DETERMINER_WORDS}\s+)({w})\s+(?:and|or)\s+(?!{_DETERMINER_WORDS}\b)",
        re.IGNORECASE,
    )
    closed = re.compile(rf",?\s+(?:and|or)\s+({w})(?=\s*(?:[,;:.!?]|$))", re.IGNORECASE)
    new = text
    match = opened.search(text)
    if match and match.start(2) == first.start():
        new = text[: match.start()] + match.group(1) + text[match.end() :]
    elif (match := closed.search(text)) and match.start(1) == first.start():
        new = text[: match.start()] + text[match.end() :]
    else:
        start = held_from(text[: first.start()], text[first.end() :], word)
        new = text[:start] + text[first.end() :]
    new = new.lstrip(" ,;:")
    if text.lstrip()[:1].isupper() and new[:1].islower():
        new = new[0].upper() + new[1:]
    return new


#: A preposition a removed word left with nothing to take: before a mark, the end or another
#: preposition ("a face full of joy" -> "a face full of" -> "a face"; "a scream of terror in
#: the night" -> "a scream in the night"); a hyphened word is no preposition ("in-ear").
_HANGING = re.compile(
    r"(?:^|\s+)(?<![\w-])(?:full of|filled with|of|with)(?![\w-])"
    r"(?=\s*(?:[,;:.!?]|$)|\s+(?:in|on|at|by|under|over|during|for)(?![\w-]))",
    re.IGNORECASE,
)


def drop_hanging(text: str) -> str:
    """``text`` without the prepositions a removed word left hanging (:data:`_HANGING`), for a
    text something was just taken out of ("the stuff dreams are made of" is left alone when
    nothing was)."""
    text = _HANGING.sub("", text)
    return re.sub(r"([,;:])\s*[,;:]+", r"\1", text).lstrip(" ,;:")


def _tidy(text: str) -> str:
    text = strip_end(re.sub(r"\s+", " ", text), " ,.;:")
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r"\b([Aa]n?|[Tt]he)\s*,\s*", r"\1 ", text)  # "A , bull" after a removal
    text = re.sub(r"\b([Aa])n (?=[^aeiouAEIOU\W])", r"\1 ", text)
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)


def _condense(text: str, scene: SceneModel, budget: int) -> tuple[str, list[str]]:
    """Keep the clauses that carry a subject; drop other details from the end until it fits."""
    from emotion_director.clip_bpe import estimate_clip_tokens

    clauses = [
        c.strip() for c in re.split(r"[,;]\s*|\.\s+|\s+(?=with\s|while\s|and\s)", text) if c.strip()
    ]
    nouns = {w for e in scene.entities for w in e.noun.split()} - {"of"}
    keep = [
        i == 0
        or bool(
            nouns & {singular(w) for w in _WORD.findall(c.lower())}
            | nouns & set(_WORD.findall(c.lower()))
        )
        for i, c in enumerate(clauses)
    ]
    dropped: list[str] = []
    order = [i for i in reversed(range(len(clauses))) if not keep[i]]
    order += [i for i in reversed(range(1, len(clauses))) if keep[i]]  # then later subjects
    alive = set(range(len(clauses)))
    for i in order:
        if estimate_clip_tokens(", ".join(clauses[j] for j in sorted(alive))) <= budget:
            break
        alive.discard(i)
        dropped.append(clauses[i])
    result = ", ".join(clauses[j] for j in sorted(alive))
    if estimate_clip_tokens(result) > budget:  # one long clause: keep its first words
        words = result.split()
        while len(words) > 4 and estimate_clip_tokens(" ".join(words)) > budget:
            dropped.insert(0, words.pop())
        result = " ".join(words)
    return _tidy(result), dropped
