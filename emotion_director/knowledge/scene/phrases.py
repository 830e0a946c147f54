"""Phrases of a scene's clauses: a subject travelling to a place, set down on one or staying put,
a count or a group "of" something, a screen or a frame showing something else.
"""

from __future__ import annotations

from functools import lru_cache

from emotion_director.knowledge.facts import Kind
from emotion_director.knowledge.scene.conflicts import _adverb, _word_list, figure_of_speech
from emotion_director.knowledge.scene.heads import (
    _agrees_as_verb,
    _clause_verb,
    _names_a_kind,
    _participle,
    _s_verb,
)
from emotion_director.knowledge.scene.lexicon import (
    _MOTION_WORDS,
    _PHRASE_ENDS,
    _SET_ON,
    _noun_like,
    _posture_table,
    adjectives,
    body_parts,
    counts,
    curated_subjects,
    exertion_lemmas,
    kind_of,
    motion_verbs,
    postures,
    singular,
    verbs,
)
from emotion_director.knowledge.scene.model import SubjectEntity, own_words
from emotion_director.knowledge.scene.vocabulary import (
    _DETERMINERS,
    _FACTS,
    _LOCATIVE,
    ANIMATE_KINDS,
    PLACE_KINDS,
)


def _destination(noun: str, tokens: list[str], entities: list[SubjectEntity]) -> bool:
    """``noun`` stands only right after a verb of travel that follows a subject, with no
    article or preposition ("a boat coming home"; not "a running dog")."""
    if noun not in _FACTS.destination_words:
        return False
    subjects = {e.noun for e in entities}
    at = [i for i, t in enumerate(tokens) if t == noun]
    return bool(at) and all(
        i > 1
        and tokens[i - 1] in motion_verbs()
        and (tokens[i - 2] in subjects or _noun_like(tokens[i - 2]))
        for i in at
    )


#: Words of a path: a verb they follow moves its subject ("bursting out of a tunnel",
#: "skimming across a harbour", "thundering down the final straight").
_PATH = frozenset("across along through past toward towards down up into out onto around".split())


def _travels(tokens: list[str], subject: SubjectEntity, actions: list[str]) -> bool:
    """Whether the scene sets its subject moving from place to place: a verb it does (one of
    ``actions``, or the word right after its noun: "a hydrofoil skimming across", "horses
    gallop across") is one of travel (:func:`motion_verbs`) that takes no object but a place
    ("a paraglider soaring above meadows", "camels crossing the dunes"; not "a chef turning
    pancakes"), or any verb before a path to a place ("a steam locomotive bursting out of a
    tunnel"; not "a woman looking out of the window", "staring into the distance")."""
    noun = subject.noun.split()[-1]
    after_noun = {tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t == noun}
    for i, token in enumerate(tokens):
        # what it is doing ("racing", "skids", plural "gallop"), not a state it is in ("bent
        # over a workbench")
        doing = token.endswith(("ing", "s")) or (subject.plural and token in motion_verbs())
        if not doing or (token not in actions and token not in after_noun):
            continue
        after = tokens[i + 1 : i + 6]
        if after[:1] and _adverb(after[0]):
            after = after[1:]  # "racing wildly along"
        nxt = after[0] if after else ""
        if nxt in _PATH and _to_a_place(after[1:]):
            return True
        if token not in motion_verbs():
            continue
        if not nxt or nxt in _LOCATIVE | _MOTION_WORDS:
            return True
        thing = after[1] if nxt in _DETERMINERS and len(after) > 1 else nxt
        if kind_of(thing) in PLACE_KINDS:
            return True  # "crossing the dunes", not "turning pancakes"
    return False


def _exerts(tokens: list[str], actions: list[str], entities: list[SubjectEntity]) -> bool:
    """Whether the scene moves its living subject's whole body hard: a verb of exertion
    (:func:`exertion_lemmas`: "leaping", "sprints", "chase", "wrestle") of its own, after its noun
    with no other living subject between ("Hundreds of fishermen with gourds and nets leap into
    the river"; not "an old man watching boys leap into the river", "a dog asleep while children
    chase each other") or opening the scene ("Leaping from the rocks, a goat ..."), that the
    clauses read as an action or that a path or an aim follows ("leap into", "leaping for a
    catch"; not "a muddy spring fair", "the race", "a jumping spider"), or that the subject is
    caught midway through ("frozen mid-jump")."""
    subject = entities[0] if entities else None
    if subject is None or subject.kind not in ANIMATE_KINDS:
        return False
    lemmas = exertion_lemmas()
    names = own_words(subject, tokens)
    at = next((i for i, t in enumerate(tokens) if t in names), None)
    others = {w for e in entities[1:] if e.kind in ANIMATE_KINDS for w in own_words(e, tokens)}
    for i, token in enumerate(tokens):
        # caught midway through it: "a cheerleader frozen mid-jump", "a hurdler mid-leap"
        midway = token.startswith("mid-") and token[4:] in lemmas
        if not (token in lemmas or midway) or at is None or (i < at and i != 0) or i + 1 == at:
            continue
        if others & set(tokens[at + 1 : i]):
            continue  # another's verb: "watching boys leap"
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if (
            midway
            or token in actions
            or (
                (after in _PATH or after in _AIMS)
                and not (i and tokens[i - 1] in _DETERMINERS)
                and lemmas[token] in verbs()
            )
        ):
            return True
    return False


#: Prepositions a verb of exertion takes toward what it goes for or leaves ("leaping for a
#: catch", "chasing after", "leaping from their seats"; not "in" or "at": "in spring in Kyoto",
#: "the rush at dawn").
_AIMS = frozenset("for after from off over".split())


def _to_a_place(words: list[str]) -> bool:
    """Whether a path's words name a place: "(of) a tunnel", "the harbour", "a choppy bay";
    not a thing ("slamming down her cards") nor another preposition ("staring up at the stars")."""
    for k, word in enumerate(words[:4]):
        if word == "of" or word in _DETERMINERS or _adverb(word):
            continue
        if word in _LOCATIVE:
            return False
        head = words[_last_noun(words, k)]  # "golden wheat fields": fields
        return kind_of(head) in PLACE_KINDS | {"building"}
    return False


def _set_down(tokens: list[str], subject: SubjectEntity) -> bool:
    """Whether the subject is a thing set down somewhere and doing nothing: an object or a
    food that a preposition of place follows ("a vintage camera on a wooden desk", "a bowl of
    pho on a plastic stool"), which stays where it is (a vehicle may drive off; "a kite over
    the beach" is not set down)."""
    if subject.kind not in {"object", "food"}:
        return False
    noun = subject.noun.split()[-1]
    return any(t == noun and tokens[i + 1] in _SET_ON for i, t in enumerate(tokens[:-1]))


#: Words between a subject and its verb that change nothing about what it does ("a snow leopard
#: is perched", "a barge lies moored", "an old man, still sitting").
_LINKS = frozenset("is are was were sits lies stands still quietly calmly".split())


def _stays_put(tokens: list[str], subject: SubjectEntity) -> bool:
    """Whether a posture word (:func:`postures`) is the scene's main subject's own verb: right
    after its noun ("a snow leopard perched on a ledge", "a cat sits", "a barge is moored"), or
    a participle or an adjective modifying it ("a parked motorcycle", "a stalled tram", "a
    motionless heron"). A posture word elsewhere is another's, or a noun ("a girl runs past a
    lemonade stand")."""
    words = subject.noun.split()
    last = words[-1]
    if last not in tokens:
        return False
    at = tokens.index(last)
    for word in subject.modifiers:  # "a parked vintage car", "a motionless heron"
        if word in postures() and (word.endswith("ed") or _posture_table()[word] == "adjective"):
            return True  # ("a parking valet" is at work)
    k = at + 1
    while k < len(tokens) and (tokens[k] in _LINKS or tokens[k].endswith("ly")):
        if tokens[k] in postures():
            return True  # "a cat sits", "a barge lies moored"
        k += 1
    return k < len(tokens) and tokens[k] in postures()


def _last_noun(tokens: list[str], start: int) -> int:
    """Where the noun phrase that begins at ``start`` ends: its last known noun before a word
    that ends phrases or a verb ("blueberry pancakes with syrup": ``pancakes``); ``start`` when
    none is known."""
    last = start
    for j in range(start, min(len(tokens), start + 5)):
        word = tokens[j]
        verb = _participle(word) or _agrees_as_verb(tokens, j) or _count_verb(tokens, j)
        if word in _PHRASE_ENDS or (j > start and verb):
            break  # ("a tray of eclairs flies across": the tray's verb)
        if word in _word_list("media"):
            break  # a style word is no noun of the phrase ("a bowl of soup, food photography")
        if kind_of(word) is not None:
            last = j
        elif word not in _DETERMINERS and not (
            j + 1 < len(tokens) and kind_of(tokens[j + 1]) is not None
        ):
            break  # a word no table knows ends it, unless a noun follows ("hot soup")
    return last


@lru_cache(maxsize=1)
def _media_pairs() -> frozenset[str]:
    """Names of two or three words of what a picture is made as (``media_pairs``: "close up",
    "still life", "stained glass window")."""
    return frozenset(curated_subjects().get("media_pairs", []))


def _framing(tokens: list[str]) -> int:
    """How many words the opening frame of the picture takes (:func:`_frame`)."""
    return _frame(tokens)[0]


def _medium_words(tokens: list[str]) -> range:
    """Where the opening frame names the medium itself ("stained glass window" of "stained glass
    window of a coalman"), which states no setting; its style words may ("underwater photo of",
    "night photo of")."""
    end, named = _frame(tokens)
    return range(end - 1 - named, end - 1) if end else range(0)


def _frame(tokens: list[str]) -> tuple[int, int]:
    """How many words the opening frame of the picture takes, "of" included: "watercolor of",
    "an oil painting of", "extreme close up of", "aerial view of", "a macro shot of" (a media
    word, or a name of two or three words, just before an "of" among the first six words), and
    how many of them name the medium; ``(0, 0)`` when it opens with no frame. Only
    the opening: "a child drawing a picture of a horse" draws a real picture."""
    media = _word_list("media")
    for k, word in enumerate(tokens[:6]):
        if word in _VIEW_PREPOSITIONS and k and (view := _view_over(tokens, k, media))[0]:
            return view
        if word != "of" or not k:
            continue
        before = tokens[k - 1]
        named = next(
            (n for n in (3, 2) if k >= n and " ".join(tokens[k - n : k]) in _media_pairs()),
            1 if before in media and not figure_of_speech(before, tokens[k + 1 : k + 2]) else 0,
        )
        # what comes first only styles the frame ("a pencil sketch of", "black and white photo
        # of", "studio lighting portrait of"): no living thing and no verb ("a child drawing a
        # picture of a horse", "a crumpled photo of a soldier")
        # (a living thing right before the medium names its style or theme: "impressionist
        # painting of", "wildlife photo of")
        # (a tone's participle styles it too: "muted grey oil painting of a mercer", set 112)
        tones = _word_list("tones")
        styled = not any(
            (kind_of(w) in ANIMATE_KINDS and i < k - 2)
            or (_participle(w) and w not in media and w not in tones)
            for i, w in enumerate(tokens[: k - named])
        )
        return (k + 1, named) if named and styled else (0, 0)
    return 0, 0


#: Where a camera's view goes ("drone shot straight down over a motorway cloverleaf", "overhead
#: shot looking straight down at a chessboard"), and the words of its direction before it.
_VIEW_PREPOSITIONS = frozenset("over above across into onto at through".split())
_VIEW_DIRECTION = frozenset("straight down directly right up looking".split())


def _view_over(tokens: list[str], k: int, media: frozenset[str]) -> tuple[int, int]:
    """The opening frame of a camera's view before a preposition at ``k`` ("drone shot straight
    down over", set 101 read "straight" as the subject; "aerial view over"), as :func:`_frame`
    counts it: a media word among the first four, only styled before it (no living thing, no
    verb: "a dog shot at dawn" is a dog), then words of direction."""
    j = k
    while j > 0 and tokens[j - 1] in _VIEW_DIRECTION:
        j -= 1
    if not j or tokens[j - 1] not in media or j > 4:
        return 0, 0
    if any(kind_of(w) in ANIMATE_KINDS or _participle(w) for w in tokens[: j - 1]):
        return 0, 0
    return k + 1, k - j + 1


def _count_verb(tokens: list[str], j: int) -> bool:
    """Whether the -s word at ``j``, after a count's noun, is the count's verb: a verb that a
    plural noun before it ("a crowd of protesters marches"), or a determiner or a preposition
    after it ("a flock of sheep blocks a road", "a cup of coffee steams beside a laptop"),
    shows is no second noun. ("A plate of fish cakes on a table" is read as a plate of fish.)"""
    if j < 1:
        return False
    word, before = tokens[j], tokens[j - 1]
    after = tokens[j + 1] if j + 1 < len(tokens) else ""
    if singular(before) != before and word.isalpha() and word.endswith("s"):
        # after the count's plural members, any -s word is the count's verb, a verb WordNet
        # uses mostly as a noun too ("a team of firefighters battles a blaze"): English noun
        # modifiers are singular, so no plural noun goes on the phrase
        stem = singular(word)
        return stem != word and (stem in verbs() or kind_of(stem) is not None)
    if not _s_verb(word):
        return False
    return after in _DETERMINERS or after in _PHRASE_ENDS


def _of_head(
    tokens: list[str], i: int, kind: Kind | None, names: frozenset[int] = frozenset()
) -> int | None:
    """Where the head of the noun phrase after "of" is, when ``tokens[i]``, the noun that opens
    the scene, counts, shapes or groups it ("a pair of fennec foxes napping": ``foxes``), and
    is not a place or a building ("a field of grass", "a greenhouse of vines"), a living thing
    ("a mother of twins"), a part ("the neck of a bottle") or a depiction ("a statue of a
    horse"). The phrase ends at a word that ends phrases, an -ing word after a noun, or a verb;
    its head is its last noun, which no capital makes a name ("the hull of the Queen Mary")."""
    if i + 2 >= len(tokens) or tokens[i + 1] != "of" or i in names:
        return None  # (a name with "of" is one name: "a Day of the Dead altar")
    if _agrees_as_verb(tokens, i) or _clause_verb(tokens, i):
        return None
    token = tokens[i]
    if any(w in _PHRASE_ENDS or w not in _DETERMINERS and _participle(w) for w in tokens[:i]):
        return None  # not the opening phrase ("a smokejumper leaping from the door of a plane")
    if token in _DETERMINERS or len(token) < 3 or not token.isalpha() or token in body_parts():
        return None
    if token not in counts() and singular(token) not in counts():
        return None  # "the wheel of a bicycle", "the corpse of a soldier": the wheel, the corpse
    depictions = curated_subjects()["lifeless"]["depictions"]
    if kind in PLACE_KINDS | (ANIMATE_KINDS - {"group"}) or token in depictions:
        return None
    head = None
    for j in range(i + 2, min(len(tokens), i + 8)):
        word = tokens[j]
        if word in _PHRASE_ENDS:
            break
        if head is not None and _participle(word) and not _names_a_kind(tokens, j):
            break  # (a participle before a living thing names its kind: "great crested grebes")
        if j > i + 2 and (_agrees_as_verb(tokens, j) or _count_verb(tokens, j)):
            break  # "a crowd of protesters marches down a street": the count's verb
        if word in _DETERMINERS or _participle(word) or word.endswith("ly") or j in names:
            continue
        if kind_of(word) is not None or (_noun_like(word) and word not in adjectives()):
            head = j  # ("a team of firefighters": a noun no table knows is still the head)
    if head is None or head in names or kind_of(tokens[head]) in PLACE_KINDS:
        return None
    if kind == "group" and kind_of(tokens[head]) not in ANIMATE_KINDS:
        return None  # "the crew of a cargo ship" are people, not a ship
    if kind == "building" and kind_of(tokens[head]) not in ANIMATE_KINDS - {"person", "group"}:
        return None  # a building counts animals only: "a school of silver sardines", not "a
        # school of children" or "a house of cards"
    return head
