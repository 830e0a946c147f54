"""Where a scene's nouns are: the head of a phrase made of unknown words (:func:`unknown_head`),
proper names (:func:`name_positions`), dates (:func:`calendar_positions`) and clause breaks; and a
concept's look against the subject's stated one (:func:`look_conflict`), which needs them.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from typing import Literal

from emotion_director.knowledge.scene.conflicts import (
    _DRAWN_PROCESS,
    _FAR_DETAIL,
    _FUNCTION_WORDS,
    _NO_BODY,
    _OTHER_PICTURE,
    _PARTICIPLES,
    _PARTICLES,
    _PHOTO_PROCESS,
    _SCALED_FACETS,
    INSTANT_PHOTO,
    _adverb,
    _word_list,
    phrase_facts,
)
from emotion_director.knowledge.scene.lexicon import (
    _LIVING_KINDS,
    _PHRASE_ENDS,
    _WHEN,
    _WORD,
    _agent_kind,
    _all_english_words,
    _ing_stems,
    _noun_like,
    _verb_form,
    _wordnet_nouns,
    _wordnet_word_pos,
    adjectives,
    agent_nouns,
    attribute_lexicon,
    body_parts,
    curated_subjects,
    english_words,
    kind_of,
    known_english,
    ly_adjectives,
    mostly_verbs,
    singular,
    verbs,
)
from emotion_director.knowledge.scene.vocabulary import (
    _DETERMINERS,
    _JOINERS,
    _LOCATIVE,
    _SUBORDINATORS,
    ANIMATE_KINDS,
    FACT_WORDS,
)


def _phrase_head(words: list[str]) -> str:
    """The last word of the noun phrase that opens ``words``: the tokens keep no commas, so a
    determiner, a possessive or a participle after its first word starts the next phrase ("a
    Polish village its chandeliers" -> "village", "the city lit by" -> "city")."""
    words = list(itertools.dropwhile(lambda w: w in _DETERMINERS, words))
    phrase = [words[0]] if words else []
    for word in words[1:]:
        if word in _DETERMINERS or _participle(word):  # "its", "lit by work lamps"
            break
        phrase.append(word)
    return phrase[-1] if phrase else ""


def subjects_own(text: str) -> bool:
    """Whether a phrase is what the subject does or wears, by its first words: the subject
    itself ("{the} wearing a knitted bobble hat", "{poss} ears pinned back"), a participle
    before a function word, or an adverb ("leaping after a bright bouncing ball", "wearing a
    tiny party hat", "frozen mid-step", "slowly sniffing the flowers", "mid-sneeze"), not a
    thing set beside the subject ("a ball frozen at the top of its arc", "wildflowers in the
    foreground", "a figure standing motionless behind {the}", "snow-capped mountains")."""
    if text.lstrip().startswith(("{the}", "{poss}")):  # "{the} wearing a knitted bobble hat"
        return True
    words = _WORD.findall(text.lower())
    if not words:
        return False
    if set(words[:3]) & _NO_BODY:
        return True  # a shadow or a glow has no size of its own ("a looming shadow stretching")
    first = words[0]
    if first.startswith("mid-") or _adverb(first):
        return True
    if not _participle(first):
        return False
    # a participle that goes on to a noun or an adjective names a thing ("snow-capped
    # mountains", "rotting food swarming with flies", "towering ancient trees"); one followed by
    # a determiner, a preposition or a particle is the subject's doing ("leaping after a ball",
    # "wearing a party hat", "backing away step by step")
    nxt = words[1] if len(words) > 1 else ""
    return not nxt or nxt in _FUNCTION_WORDS or nxt in _PARTICLES or nxt.startswith("mid-")


def look_conflict(
    facet: str,
    text: str,
    facts: frozenset[str] | set[str],
    own: bool | None = True,
    preferences: bool = True,
) -> str | None:
    """Why a phrase of ``facet`` overrules the look the user chose, or ``None``: a composition
    where the prompt sets its own framing (a preference of the graph's: ``preferences=False``
    leaves it out), a colour where it asks for no colour, a thing of its own beside the subject
    of an aerial view or a close-up (``own``: whether the phrase is the subject's own, ``None``
    to read it with :func:`subjects_own`; a model's free cue names its owner in its own words, so
    it is taken as the subject's unless said), a face where the subject is a silhouette."""
    if preferences and facet == "composition" and "framed" in facts:
        return "the prompt sets its own framing"
    scaled = facts & {"aerial_view", "close_view"}
    if facet in _SCALED_FACETS and scaled and not (subjects_own(text) if own is None else own):
        if "aerial_view" in facts:
            return "the prompt views the scene from far above: a thing beside it is out of scale"
        if "close_view" in facts:
            return "the prompt frames the subject close up: a thing beside it is out of scale"
    if facet == "space" and "close_view" in facts:
        # "a dark doorway at the end of a corridor" in an extreme close-up of a hornet crawling
        # out of a plughole (set 108, both readers): a whole place does not fit the frame
        return "the prompt frames the subject close up: a whole place around it cannot show"
    if "silhouette_view" in facts and "face" in phrase_facts(text):
        return "the prompt shows the subject as a silhouette: its face cannot be seen"
    if "masked" in facts and "face" in phrase_facts(text) and "masked" not in phrase_facts(text):
        return "the prompt masks the subject's face: no expression can be read on it"
    if "face_hidden" in facts and "face" in phrase_facts(text) - {"face_hidden"}:
        return "the prompt hides the subject's face: no expression can be read on it"
    if "aerial_view" in facts:
        # "eyes red-rimmed and downcast" in a drone shot of galloping horses (set 47), "grit
        # and sweat on skin" in one of a ploughing match (set 61)
        for detail in sorted(phrase_facts(text) & _FAR_DETAIL.keys()):
            return f"the prompt views the scene from far above: {_FAR_DETAIL[detail]}"
    if "downward_view" in facts and "sky_view" in phrase_facts(text):
        return "the prompt looks straight down at the subject: no sky shows"
    if "lit_only" in facts and facet == "light" and _names_a_hue(text):
        return "the prompt names its only light: no light of another colour"
    if preferences and facet == "colour" and "palette" in facts:
        return "the prompt names its own colours"
    if "monochrome" in facts and (facet == "colour" or _names_a_hue(text)):
        return "the prompt asks for a picture without colour"
    if "drawn" in facts and _PHOTO_PROCESS.search(text.lower()):
        return "the prompt asks for a painted or drawn picture: no photographic or modelled medium"
    if "photographed" in facts and "drawn" not in facts and _DRAWN_PROCESS.search(text.lower()):
        return "the prompt asks for a photograph: no drawn or painted medium"
    if (
        "photographed" in facts
        and "instant_photo" not in facts
        and INSTANT_PHOTO.search(text.lower())
    ):
        # "square instant-photo frame with a thick white border" on a phone snapshot (set 110,
        # both readers) or a flash photo (set 103): a border only an instant photo has
        return "the prompt names its photograph, which is no instant photo"
    if "photographed" in facts and _OTHER_PICTURE.search(text.lower()):
        return "the prompt names its photograph: no other kind of picture or modelled medium"
    return None


@lru_cache(maxsize=None)
def _named_anywhere(
    section: Literal["aerial", "close", "small", "silhouette"],
) -> re.Pattern[str]:
    """A phrase of ``section`` (``subjects.yaml``) anywhere in a text, as whole words."""
    phrases = sorted(curated_subjects().get(section, []), key=len, reverse=True)
    if not phrases:
        return re.compile(r"(?!)")  # matches nothing
    return re.compile(r"(?<![\w'-])(?:" + "|".join(map(re.escape, phrases)) + r")(?![\w'-])")


#: Words of a face, the facts vocabulary's and the face itself, wherever they stand (a rendered
#: cue's face is the subject's: ":func:`phrase_facts` gives "the kids' mouth" to the kids).
_FACE_WORDS = re.compile(
    r"(?<![\w'-])(?:"
    + "|".join(map(re.escape, (*FACT_WORDS["face"], "face", "faces", "portrait")))
    + r")(?![\w'-])"
)


def framing_conflict(framing: str, text: str) -> str | None:
    """Why a cue ``text`` cannot be seen in the picture that a composition cue ``framing`` sets
    for the same prompt, or ``None``: a face or skin where the framing makes the subject small
    or views it from far above ("extreme wide shot with the hitchhiker as a speck" and "mouth
    slightly open, eyes lifted"), a face on a silhouette or on a subject seen from behind. One
    picture has one framing: the user's own is :func:`look_conflict`'s."""
    detail = phrase_facts(text) & _FAR_DETAIL.keys()
    if _FACE_WORDS.search(text.lower()):
        detail |= {"face"}  # "the kids' mouth slightly open", "a look of wonder on his face"
    lowered = framing.lower()
    if not detail or _named_anywhere("close").search(lowered) or _FACE_WORDS.search(lowered):
        return None  # a framing close up or on the face shows it, whatever else is small
    if _named_anywhere("small").search(lowered) or _named_anywhere("aerial").search(lowered):
        return f"'{framing}' shows the subject small or from far above: {_FAR_DETAIL[min(detail)]}"
    if "face" in detail and _named_anywhere("silhouette").search(lowered):
        return f"'{framing}' shows the subject as a silhouette: its face cannot be seen"
    if "face" in detail and "face_hidden" in phrase_facts(framing):
        # "{the} seen from behind on a porch step at dusk", "seen from behind, facing away"
        return f"'{framing}' turns the subject's face away: its face cannot be seen"
    return None


#: Words of degree that may stand between a noun and its participle ("half buried", "just
#: landed"): never the phrase's head (not "well" or "still": "a village well", "a whisky still").
_DEGREE_WORDS = frozenset("half just almost".split())


#: Endings of adjectives and adverbs: a phrase's last word ending so is not its head noun.
_NOT_NOUN_ENDINGS = ("ic", "ical", "ly", "ous", "ful", "less", "ive", "able", "ible", "esque")


_LONG_PARTICIPLES = tuple(p for p in _PARTICIPLES if len(p) >= 4)


#: Kinds whose nouns after a plural name a place ("the farmers market", "the goods train",
#: "the sports bar"), though WordNet has them as verbs too.
_NAMED_PLACES = frozenset({"building", "vehicle", "room", "landscape", "event"})


def _s_verb(word: str) -> bool:
    """Whether ``word`` is the -s form of a verb (``verbs``): "marches", "chases"."""
    return word.endswith("s") and singular(word) != word and singular(word) in verbs()


def _verb_not_noun(word: str, after: str | None) -> bool:
    """Whether a word the tables know as a noun is a verb after a plural noun that "the" opened:
    a determiner follows ("the dockworkers block a gate": no noun phrase goes on so), or it is
    mostly a verb and names no place ("the rally cars skid through"; "the farmers market in the
    square", "the goods train in the snow" and "the sports bar at night" are places)."""
    if after in _DETERMINERS:
        return True
    return word in mostly_verbs() and kind_of(word) not in _NAMED_PLACES


#: Determiners of one thing: the noun phrase they open has a singular head.
_SINGULAR_DETERMINERS = frozenset("a an one each every this that".split())


#: Endings of English agent nouns ("cooper", "chandler", "sculptor", "cellist", "librarian").
_AGENT_ENDINGS = ("er", "or", "ist", "ian")


def _verb_agent(word: str) -> bool:
    """A singular person noun made of a verb and -er or -or: one who does it for a living or
    the moment ("seller", "driver", "cutter", "vendor"); not "mother", "tiger" or "lobster".
    The verb is found as its -ing form's is (:func:`_ing_stems`)."""
    if kind_of(word) != "person" or singular(word) != word or not word.endswith(("er", "or")):
        return False
    return any(stem in verbs() for stem in _ing_stems(word[:-2] + "ing"))


def _agrees_as_verb(tokens: list[str] | tuple[str, ...], i: int) -> bool:
    """See :func:`_agrees`; cached per text and position (it asks itself about the words
    before, so a long run of nouns would otherwise cost exponential time)."""
    return _agrees(tuple(tokens), i)


@lru_cache(maxsize=8192)
def _agrees(tokens: tuple[str, ...], i: int) -> bool:
    """Whether ``tokens[i]`` is the finite verb of a clause whose subject ends just before it,
    by agreement, not by a list of verbs: an -s word after a singular noun that "a", "one" or
    "every" opened ("a cat sleeps on a sofa", "a diver hovers beside a ray": the phrase's head
    cannot be plural), or, after a plural noun, a word no table knows as a noun ("astronauts
    drift in the cupola": English noun modifiers are singular) or a verb (``verbs``) that a
    preposition or a determiner follows ("rally cars skid through a forest": no noun phrase
    goes on so). After a noun no table knows ("a freediver kicks toward a shoal"), the -s word
    must be such a verb too. A possessive before it ("a chef's knives") keeps the plural head."""
    if i < 1 or tokens[i - 1].endswith(("'s", "'", "ing", "ed")):
        return False  # ("a bookbinder stitching spines": what is stitched)
    word, before = tokens[i], tokens[i - 1]
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    # a verb, as the next word shows: nothing, a preposition, a determiner or an adverb follows
    verb_here = (singular(word) in verbs() or word in verbs()) and (
        after is None or after in _PHRASE_ENDS or after in _DETERMINERS or _adverb(after)
    )
    # (a weather word is a noun too: "a sandstorm rolls toward a caravan")
    noun_before = _noun_like(before) or (phrase_facts(before) and not before.endswith("y"))
    if kind_of(before) is None and not noun_before:
        return False
    opened_by_one = opened_by_the = False
    opener = None
    for j in range(i - 2, max(-1, i - 6), -1):  # back over the phrase's modifiers
        if tokens[j] in _SINGULAR_DETERMINERS:
            opened_by_one, opener = True, j
            break
        opened_by_the = opened_by_the or tokens[j] in _DETERMINERS
        verb_form = tokens[j].endswith(("ing", "ed")) or _participle(tokens[j])
        if (
            tokens[j] in _PHRASE_ENDS
            or tokens[j] in _DETERMINERS
            # (not "a rally car", "a supply capsule"; an adjective in -ly is the phrase's own:
            # "an elderly carver cuts a seal")
            or _true_adverb(tokens[j])
            or (verb_form and j > 0 and _noun_like(tokens[j - 1]))
            or _agrees_as_verb(tokens, j)  # "a couple tends tomato plants"
        ):
            break  # another phrase's: "a keeper climbing spiral stairs" ("a rusted fishing
            # boat" is one phrase)
    if singular(before) != before:
        # a plural noun: the next word, if no noun, is its verb ("astronauts drift"); after
        # "a" or "an" the plural-looking word is a modifier ("an arms dealer")
        return (
            not opened_by_one
            and (kind_of(before) is not None or verb_here)
            and (
                kind_of(word) is None
                or (verb_here and (not opened_by_the or _verb_not_noun(word, after)))
            )
            and word.isalpha()
            and not word.endswith(("ed", "ly", "s"))
            # (a participle is another clause's; a verb that ends so is not: "workers wring out
            # their caps", "choristers sing")
            and not (word.endswith("ing") and word not in verbs())
            and word not in _PHRASE_ENDS
            and word not in _DETERMINERS  # ("a boy named Tomás flies a kite": "a" is no verb)
        )
    plural_form = word.endswith("s") and not word.endswith(("ss", "us", "is", "'s"))
    if kind_of(before) is None and not verb_here:
        # after an agent noun no table knows, "a" still makes the -s form of a verb the verb
        # ("a cooper hammers iron hoops": no phrase that "a" opens ends in a plural); other
        # words, and a plural with its participle, may end or open a clause whose comma the
        # tokens lost ("after a power cut, flies buzzing", "a moored trawler, gulls dozing")
        agent = before.isalpha() and before.endswith(_AGENT_ENDINGS)
        participle_next = after is not None and after.endswith(("ing", "ed"))  # "gulls dozing"
        return (
            agent
            and before not in english_words()
            and not participle_next
            and opened_by_one
            and plural_form
            and _s_verb(word)
        )
    # after "the", an -s word WordNet uses mostly as a verb, before a preposition or a
    # determiner, is the verb too ("the kakapo waddles across mossy ground"; "the farmers
    # market in the square" keeps its noun)
    the_verb = opened_by_the and verb_here and singular(word) in mostly_verbs()
    # two subjects joined by "and" take a verb's base form: "a farmer's daughter and a newborn
    # piglet nap side by side" (set 77 read "piglet nap" as one noun)
    joined = (
        opener is not None
        and opener >= 2
        and tokens[opener - 1] == "and"
        and _noun_like(tokens[opener - 2].removesuffix("'s"))
        and word in mostly_verbs()
        and not word.endswith(("s", "ed", "ing"))
    )
    return ((opened_by_one or the_verb) and plural_form and singular(word) != word) or joined


def _true_adverb(word: str) -> bool:
    """An adverb in -ly (:func:`_adverb`) that WordNet has as no adjective: it ends the noun
    phrase before it ("a slowly sinking boat"); an adjective in -ly is the phrase's own
    ("an elderly carver", "a boy with curly hair")."""
    return _adverb(word) and word not in ly_adjectives()


def _names_a_hue(text: str) -> bool:
    """Whether ``text`` names a colour, in a word or a part of one ("lemon-yellow rim light")."""
    words = {w for token in _WORD.findall(text.lower()) for w in token.split("-")}
    return bool(words & _word_list("hues"))


def _participle(word: str) -> bool:
    """Whether ``word`` has a participle's form: -ing, -ed, an irregular participle, or one with
    a prefix ("overgrown", "windblown", "heartbroken")."""
    if word.endswith("eed") and word[:-1] not in verbs():
        return False  # "speed", "tweed", "high-speed" ("agreed", "freed" are participles)
    if word.endswith(("ing", "ed")) or word in _PARTICIPLES:
        return True
    return any(word.endswith(p) for p in _LONG_PARTICIPLES if len(word) - len(p) >= 2)


def unknown_head(tokens: list[str]) -> str | None:
    """The head noun of the prompt's first noun phrase when no word of that phrase is a noun the
    tables know ("a parkourist leaping ..." -> ``parkourist``, "a sleeping sheepdog curled ..." ->
    ``sheepdog``), else ``None``. The phrase ends at a preposition or conjunction, or at a verb
    form (-ing, -ed, an irregular participle) or an adverb (-ly) after its first word, unless
    only participles came before it and it is a known noun ("a yellowed wedding gown" is a gown).
    """
    words = list(tokens)
    while words and words[0] in _DETERMINERS:
        words.pop(0)
    if (
        len(words) > 1
        and _participle(words[0])
        and not words[0].endswith("ing")  # ("a clearing in a pine forest" is a clearing)
        and words[1] in _LOCATIVE | {"to"}
    ):
        return None  # a participle's phrase opens the scene: "Stuck in a stalled lift, a rider"
    offset = len(tokens) - len(words)
    span: list[str] = []
    for k, word in enumerate(words):
        if span and _agrees_as_verb(tokens, offset + k):
            break  # "a cat sleeps on a sofa": the phrase ends at its verb
        # "mid-game", "mid-air": a state, like a participle ("a backgammon board mid-game")
        verb = word.endswith("ly") or _participle(word) or word.startswith("mid-")
        # after participles only ("a yellowed wedding gown"), a known noun in -ing/-ed goes on
        # with the phrase: the participles modified it
        modifiers_only = all(_participle(w) for w in span)
        following = words[k + 1] if k + 1 < len(words) else ""
        if verb and span and modifiers_only and kind_of(word):
            verb = False
        # after participles only, a gerund before a noun modifies it: "a rusted fishing trawler"
        if (
            verb
            and span
            and modifiers_only
            and word.endswith("ing")
            and following
            and following not in _PHRASE_ENDS
            and not _participle(following)
            and not following.endswith("ly")
        ):
            verb = False
        # a participle before a living thing's name names its kind: "a great crested newt", "a
        # red crowned crane" (set 40 read "great" as the subject)
        if verb and span and _names_a_kind(words, k):
            verb = False
        # an adjective after a noun no table knows stands after it ("a salaryman asleep", "a
        # matatu ablaze"): the noun ended the phrase
        last = span[-1] if span else ""
        if last and not (last in adjectives() or _participle(last)) and _postpositive(word):
            break
        if word in _PHRASE_ENDS or (span and verb):
            if span and modifiers_only and word not in _PHRASE_ENDS:
                return None  # "a rusted mooring post": participles, then no noun it can tell
            break
        span.append(word)
    if not span:
        return None
    # a person's or an animal's thing is the head ("a ventriloquist's dummy"); any other
    # possessor names a measure or a figure ("a stone's throw", "a hair's breadth")
    possessors = [w.removesuffix("'s") for w in span if w.endswith("'s")]
    if any(kind_of(p) not in ANIMATE_KINDS for p in possessors):
        return None
    if len(span) > 1 and span[-1] in _DEGREE_WORDS:
        span.pop()  # "a fulgurite half buried in sand": how far it is buried, not the head
    head = span[-1].removesuffix("'s")
    # the last word of an English noun phrase is its head: known nouns before an unknown one
    # modify it ("a top fuel dragster" is a dragster); an agent noun after a noun is read as a
    # person by the parser ("a basket weaver")
    if kind_of(head) or any(kind_of(w) for w in span if w.endswith("'s")):
        return None
    if len(span) > 1 and _agent_kind(head, span[-2].removesuffix("'s")):
        return None
    # a mood, time or weather word is no subject ("sad", "midnight", "stormy"), nor a common word
    # that is not a concrete noun ("empty", "dramatic") or a style word ("cinematic", "highly")
    spelled = head.replace("-", "").isalpha()  # "aye-ayes", "water-taxi"
    if len(head) < 3 or not spelled or head in attribute_lexicon() or phrase_facts(head):
        return None
    if head in _word_list("media"):  # "close-up of a bee": the bee
        return None
    if head in english_words() or head in adjectives() or head.endswith(_NOT_NOUN_ENDINGS):
        return None
    return head


def _postpositive(word: str) -> bool:
    """Whether ``word`` is an adjective and no noun: it cannot go on a noun phrase as its head
    or as a noun modifier."""
    return word in adjectives() and not kind_of(word) and singular(word) not in _wordnet_nouns()


def name_positions(text: str) -> frozenset[int]:
    """Positions, among ``text``'s words, of those written as proper names: capitalised inside
    a sentence ("a vintage Citroen", "a country road in Burgundy"). Capitals say nothing in a
    text whose content words are all capitalised (title case, capitals), at a sentence's or a
    line's start, after a comma (a list of tags: "a wolf howling, Cinematic lighting") or a
    number ("3 Dogs"), or in "I", "I'm", acronyms, months and days (``calendar`` in
    ``subjects.yaml``). :func:`_entities` decides what a name
    is."""
    matches = list(_WORD.finditer(text))
    content = [m for m in matches if m.group().lower() not in _FUNCTION_WORDS]
    if content and all(m.group()[0].isupper() for m in content):
        return frozenset()  # "A Fox and a Hound in the Snow"
    names = set()
    for i, match in enumerate(matches):
        word = match.group()
        if len(word) < 2 or not word[0].isupper() or word.lower() in _word_list("calendar"):
            continue  # lowercase, "I", or a month or a day ("in September")
        if word.isupper():  # an acronym: a name's first word only before a name ("VW Beetle")
            following = matches[i + 1].group() if i + 1 < len(matches) else ""
            if not (following[:1].isupper() and not following.isupper()):
                continue  # "NASA engineers", "a CV"
        if word.lower().startswith("i'"):
            continue  # "I'm", "I've"
        before = text[: match.start()].rstrip(" \t")
        if before and before[-1] not in _SENTENCE_OPENERS and not before[-1].isdigit():
            names.add(i)
    return frozenset(names)


#: what may stand before a sentence's, a line's, a quotation's or a tag's first word
_SENTENCE_OPENERS = frozenset(".!?:;,\"'\u201c\u2018([-\u2013\u2014*#>\n\u2022\u2026|")


def _named(tokens: list[str], i: int, names: frozenset[int], kind: str | None) -> bool:
    """Whether the capitalised word at ``i`` (a position of ``names``) names something of no
    kind: anything but a living thing ("the Queen Mary", "in Champagne", "in Burgundy"), and a
    living thing when it ends a run of names that a word English does not have opens ("a
    Chevrolet Impala", "a Honda Monkey", "the Maasai Mara"). A single capitalised animal or
    person keeps its kind ("a Majestic Lion", "a Cat on a Sofa"), and so does the end of a run
    that an English word opens ("a Golden Retriever", "a Bald Eagle")."""
    if kind not in _LIVING_KINDS:
        return True
    start = i
    while start - 1 in names:
        start -= 1
    return start < i and tokens[start] not in english_words()


def _name_modifies(tokens: list[str], i: int, names: frozenset[int]) -> bool:
    """Whether the name at ``i`` modifies a noun that its phrase goes on to: a noun the tables
    know comes before any word that ends the phrase, a participle, a verb or another name
    ("a Venetian water-taxi driver shaking", "a Honda motorcycle"; not "a vintage Citroen
    parked", "Mary Ellen tossed by waves")."""
    for j in range(i + 1, min(len(tokens), i + 4)):
        word = tokens[j]
        if "-" in word and word.endswith("ed"):
            continue  # a compound adjective, no verb: "Faroese turf-roofed boathouses"
        if j in names or word in _PHRASE_ENDS or word in _DETERMINERS or _participle(word):
            return False
        if _agrees_as_verb(tokens, j) or word in body_parts():
            return False
        if _s_verb(word):
            return False  # "a dog called Rex chases rabbits": the name's verb
        if kind_of(word) is not None or (j > i + 1 and singular(word) in agent_nouns()):
            return True  # ("a Hmong batik maker": who makes batik)
        if j == i + 1 and _unknown_noun(word):
            return True  # a name before a noun no table knows styles it: "a Japanese salaryman"
    return False


def _noun_no_kind(word: str) -> bool:
    """Whether ``word`` is a noun to WordNet (``wordnet_words.tsv``'s nouns, which no other table
    reads as English) that no table gives a kind, in no verb form: "figurehead", "tahona"
    is none (WordNet lacks it)."""
    if not word.isalpha() or _participle(word) or word in _PHRASE_ENDS or word in _WHEN:
        return False
    if kind_of(word) is not None or word in adjectives() or word in verbs():
        return False
    if word in _word_list("hues"):
        return False  # a colour, after a comma the tokens do not show ("a skillet, brown eggs")
    stem = singular(word)
    # WordNet's noun, or a closed compound of two English words ("figurehead")
    return _wordnet_word_pos().get(stem) == "n" or (
        stem not in _all_english_words() and known_english(stem)
    )


def _unknown_noun(word: str) -> bool:
    """Whether ``word`` reads as a noun that no table knows: no English word (:func:`known_english`,
    "a Wardian case"), no verb or adjective, with no verb or adverb ending."""
    if len(word) < 3 or not word.replace("-", "").isalpha() or word.endswith(_NOT_NOUN_ENDINGS):
        return False
    if word in _PHRASE_ENDS or word in _DETERMINERS or word in _WHEN or known_english(word):
        return False
    return not (word in adjectives() or word in verbs() or _verb_form(word))


def _clause_verb(tokens: list[str], i: int) -> bool:
    """Whether ``tokens[i]`` is the verb of a clause that a conjunction opened: the word after
    that clause's subject, within four words of the conjunction, where the clause's next word
    (or its end) shows that no noun follows ("as mist lifts", "as snow falls outside", "as crows
    perch along its chimney", "while the kettle boils"). Such a word names nothing in the scene,
    though a noun of the same spelling would ("lifts", "falls", "perch"); "as sea lions bask"
    keeps its sea lions (a verb follows them)."""
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if nxt and nxt not in _CLAUSE_ENDS | _LOCATIVE | _DETERMINERS | _SUBORDINATORS:
        return False
    if i >= len(tokens) or i < 2 or not _subject_noun(tokens[i - 1]):
        return False  # "a once proud ship", "such as big cats": no subject before it
    for j in range(i - 1, max(i - 5, -1), -1):
        if tokens[j] in _SUBORDINATORS:
            between = tokens[j + 1 : i]
            if between[:1] in (["a"], ["an"]) or any(t.endswith(("ing", "ed")) for t in between):
                return False  # "dressed as a fairy princess", "while holding an umbrella"
            return any(t not in _DETERMINERS for t in between)
        if tokens[j] in _LOCATIVE or tokens[j] in _JOINERS:
            return False
    return False


def _subject_noun(word: str) -> bool:
    """Whether ``word`` can end a clause's subject: a noun of a known kind, or a word WordNet
    or the lexicon holds as a noun ("mist", "snow", "crows")."""
    return bool(kind_of(word) or kind_of(singular(word)) or singular(word) in _wordnet_nouns())


#: Words after a clause's verb that are no noun of its subject: place adverbs and conjunctions.
_CLAUSE_ENDS = frozenset(
    "overhead nearby outside inside below above ahead away down up out off about everywhere "
    "home and or but then again slowly".split()
)


def calendar_positions(text: str) -> frozenset[int]:
    """Positions, among ``text``'s words, of capitalised months and days ("in late March", "on
    a Sunday morning"): times, neither things nor places (a march or a may is lowercase)."""
    return frozenset(
        i
        for i, m in enumerate(_WORD.finditer(text))
        if m.group()[0].isupper() and m.group().lower() in _word_list("calendar")
    )


#: One-word states of the sky ("overcast", "sunny", "cloudless"): never a thing of the scene.
_SKY_WORDS = frozenset(
    key for fact in ("overcast", "clear", "sunny") for key in FACT_WORDS[fact] if " " not in key
)


def _break_positions(text: str) -> frozenset[int]:
    """Positions, among ``text``'s words, of those a comma or another mark ends: a noun there
    modifies nothing after it ("an old barn, lichen roof, morning fog")."""
    matches = list(_WORD.finditer(text))
    return frozenset(
        i
        for i, (this, nxt) in enumerate(itertools.pairwise(matches))
        if re.search(r"[,;:.!?()\u2013\u2014]", text[this.end() : nxt.start()])
    )


def _names_a_kind(tokens: list[str], j: int) -> bool:
    """Whether the -ed word at ``j`` is part of the name of the living thing after it ("a great
    crested newt", "a pair of great crested grebes", "a red crowned crane"), not a verb."""
    following = tokens[j + 1] if j + 1 < len(tokens) else ""
    return tokens[j].endswith("ed") and kind_of(following) in ANIMATE_KINDS
