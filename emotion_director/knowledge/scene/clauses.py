"""The subjects, actions and emotion-laden attributes a scene states, read clause by clause
(:func:`parse_scene` puts them together).
"""

from __future__ import annotations

import re
from functools import lru_cache

from emotion_director.knowledge.facts import Kind
from emotion_director.knowledge.scene.conflicts import _FUNCTION_WORDS, _adverb, _word_list
from emotion_director.knowledge.scene.heads import (
    _AGENT_ENDINGS,
    _SKY_WORDS,
    _agrees_as_verb,
    _clause_verb,
    _name_modifies,
    _named,
    _noun_no_kind,
    _participle,
    _s_verb,
    _true_adverb,
    _verb_agent,
    calendar_positions,
    name_positions,
)
from emotion_director.knowledge.scene.lexicon import (
    _CONTAINERS,
    _MOTION_WORDS,
    _NOUN_KINDS_OF_ING,
    _PHRASE_ENDS,
    _WHEN,
    _WORD,
    POSSESSIVE,
    _absent,
    _agent_kind,
    _compound_nouns,
    _ing_of_a_verb,
    _ing_stems,
    _noun_like,
    _verb_form,
    adjectives,
    attribute_lexicon,
    body_parts,
    curated_moods,
    curated_subjects,
    english_words,
    expression_words,
    kind_of,
    known_english,
    mood_word,
    mostly_verbs,
    postures,
    singular,
    verbs,
)
from emotion_director.knowledge.scene.model import EmotionalAttribute, SubjectEntity, own_words
from emotion_director.knowledge.scene.phrases import _count_verb, _framing, _last_noun, _of_head
from emotion_director.knowledge.scene.vocabulary import (
    _DETERMINERS,
    _JOINERS,
    _LOCATIVE,
    _SUBJECT_PRONOUNS,
    ANIMATE_KINDS,
    ASLEEP_WORDS,
    PLACE_KINDS,
    _sleep_word,
    sleep_base_form,
)


def _pure_adjective(word: str) -> bool:
    """A describing word that is no noun ("wooden", "red", "rusty"; not "metal", "stone", and
    no word that starts another phrase, "on", "alone")."""
    return (
        bool(word)
        and word not in _FUNCTION_WORDS
        and word not in _PHRASE_ENDS
        and kind_of(word) is None
        and (word in adjectives() or word in _word_list("hues"))
    )


def _predicative(word: str) -> bool:
    """An a- word, which stands after its noun, never before another: "a man asleep", "a boat
    adrift", "a house ablaze"."""
    return word.startswith("a") and known_english(word[1:])


def _entities(
    tokens: list[str],
    names: frozenset[int] = frozenset(),
    times: frozenset[int] = frozenset(),
    breaks: frozenset[int] = frozenset(),
) -> tuple[list[SubjectEntity], list[SubjectEntity]]:
    """Subjects (who/what) and places (where), in prompt order. A word at a position of
    ``names`` (:func:`name_positions`) is a thing of no known kind, unless its kind is a place
    ("Bondi Beach") or it heads a known compound; one at a position of ``times``
    (:func:`calendar_positions`) is neither."""
    subjects: list[SubjectEntity] = []
    places: list[SubjectEntity] = []
    locative = False
    modifiers: list[str] = []
    compound: Kind | None = None  # the kind of a two-word noun whose first word came last
    skip_to = -1  # the last word of an "X of Y" subject read ahead
    part_of: int | None = None  # the "of" after a part of a place ("the rim of")
    unknown_subject = False  # a noun no table knows came before a preposition of place
    # "In Paris, a cat ...", "Hovering off Bali, a sunfish ...": a name after a preposition
    # before the subject is where it is
    opens_with_where = bool(tokens) and (tokens[0] in _LOCATIVE or _participle(tokens[0]))
    framing = _framing(tokens)
    for i, token in enumerate(tokens):
        if opens_with_where and not subjects and places and i - 1 in breaks:
            # "Inside an old watermill, great cogwheels turn": where ends with the place's noun
            # (not at "In a cozy, candlelit cabin, ...")
            locative = False
        if i <= skip_to:
            continue
        head_of, compound = compound, None
        if i in times:
            continue  # "in late March": when, not what or where
        if (
            tokens[i + 1 : i + 3] == ["by", token]
            or (i > 1 and tokens[i - 2 : i] == [token, "by"])
            or (token == "by" and 0 < i < len(tokens) - 1 and tokens[i - 1] == tokens[i + 1])
        ):
            continue  # "layer by layer", "brick by brick": how, not what (nor where)
        if token in _LOCATIVE:
            locative = True
            modifiers = []
            continue
        if token in _JOINERS:
            locative = False
            modifiers = []
            continue
        kind = None if token in body_parts() else kind_of(token)
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        before = tokens[i - 1] if i else ""
        if i < framing:
            continue  # "oil painting of", "close up of": how the picture is made, not what
        if token in _word_list("regions"):
            whole = next((k for w in tokens[i + 2 : i + 6] if (k := kind_of(w))), None)
            if nxt == "of" and (kind != "room" or whole == "landscape"):
                part_of = i + 1  # "the surface of a bay": the bay is the place (the floor of a
                modifiers = []  # hall is inside it)
                continue
            if kind_of(before) == "landscape" and before in modifiers:
                kind = "landscape"  # "the forest floor", "the sea floor": outdoors
        kind = _agent_kind(token, before) or kind
        if token in _SKY_WORDS:
            kind = None  # "on an overcast autumn day": the sky's state, not a thing in the scene
        if (
            _clause_verb(tokens, i)
            or _agrees_as_verb(tokens, i)
            or (i == skip_to + 1 and _count_verb(tokens, i))  # "a flock of sheep blocks"
        ):
            kind = None  # "as mist lifts", "as snow falls outside", "a cat naps on a radiator":
            # what happens, not a thing
        if i in names and kind not in PLACE_KINDS and _named(tokens, i, names, kind):
            if i + 1 not in names and _name_modifies(tokens, i, names):
                modifiers.append(token)  # "a Venetian water-taxi driver", "an African grey
                continue  # parrot": the noun after the name is the thing
            kind = "thing"  # "a vintage Jaguar" is a make of car, not an animal ("Bondi Beach"
            # is still a beach)
        partitive = _of_head(tokens, i, kind, names) if not subjects and not places else None
        if partitive is not None:
            # "a pair of fennec foxes", "a line of ducklings", "strips of shark meat": the
            # first noun counts or shapes what follows "of", which is what the scene shows
            inner = tokens[partitive]
            subjects.append(
                SubjectEntity(
                    noun=f"{token} of {inner}",
                    kind=kind_of(inner) or kind or "thing",  # (a team of smokejumpers)
                    plural=token in _CONTAINERS or singular(inner) != inner,
                    modifiers=[
                        *modifiers,
                        *(w for w in tokens[i + 2 : partitive] if w not in _DETERMINERS),
                    ],
                )
            )
            modifiers, skip_to = [], partitive
            continue
        if _absent(tokens, i):
            kind = None  # "a suburb with no customers": no one to give tears to
        elif (
            _verb_form(token)
            and kind_of(before)
            and nxt in _LOCATIVE | _JOINERS
            and kind not in _NOUN_KINDS_OF_ING
        ):
            kind = None  # "an orchard humming with doves": what the orchard does, not a thing
        if head_of is not None:
            kind = head_of  # the head of "an organ grinder": a person, whatever a grinder is
        elif nxt and f"{token} {singular(nxt.removesuffix(POSSESSIVE))}" in _compound_nouns():
            # this word modifies its head, next ("a window cleaner's cradle" too)
            compound = kind_of(f"{token} {singular(nxt.removesuffix(POSSESSIVE))}")
            modifiers.append(token)
            continue
        if kind and _verb_after_subject(token, i, tokens, subjects):
            kind = None  # "a hyena gnawing a ribcage": what the hyena does, not a thing
        if locative and (token in _WHEN or (kind == "fire" and tokens[i - 1] == "on")):
            continue  # "at night", "on fire": when and how, read as facts, not a place or a thing
        # a noun used as a modifier ("a fishing boat", "a bus stop"): the next noun is the head
        # "a hyena gnawing a ribcage": gnawing is no head noun
        acts = _does(kind, nxt, tokens[i + 2] if i + 2 < len(tokens) else "")
        # ... and so is a noun before a possessive: "a coal miner's widow" is a widow
        owner = nxt.removesuffix("'s")
        head = kind_of(owner) or _agent_kind(owner, token)
        # ... and so is a noun before a noun no table knows that goes on to a known one: "a ship
        # figurehead carver" is a carver (set 49 got "the ship covered in polka-dot stickers")
        after_next = tokens[i + 2] if i + 2 < len(tokens) else ""
        # (English noun modifiers are singular: "dogs chase cats" is no compound)
        chained = not {i, i + 1} & breaks
        if not head and after_next and chained and kind_of(token) and singular(token) == token:
            if _noun_no_kind(nxt):
                head = kind_of(after_next) or _agent_kind(after_next, nxt)
            elif (
                nxt.isalpha()
                and not known_english(nxt)
                and i + 1 not in names  # ("a boy Kwame kicks a ball": a name, the boy's)
                and nxt.endswith(_AGENT_ENDINGS)  # (a lower-case name: "a chef anjali stirs")
                and _agrees_as_verb(tokens, i + 2)
            ):
                # ... and so is a noun before a word no vocabulary knows whose verb follows: "a
                # feller buncher grips a trunk" is a buncher, a thing of no known kind (set 74
                # gave "the feller's eyebrows" to the machine)
                modifiers.append(token)
                compound = "thing"
                continue
            elif (
                nxt in verbs()
                and not (_s_verb(nxt) or _participle(nxt) or nxt in _PHRASE_ENDS)
                # (not a word of the curated lists, which a comma the tokens do not show may
                # stand before: "a skillet, brown eggs", "a cemetery, full moon")
                and nxt not in english_words()
            ):
                # a verb's base form after a singular noun with no determiner is a noun, before
                # a thing: "a duck tour bus" (set 50 gave the bus feathers); not before a living
                # thing ("a shepherd and her collie drive sheep"), but before one agent noun ("a
                # candy floss seller": set 69 gave "the candy" the framing)
                # ... after "a" or "an" ("sheep graze meadow grass" is a clause)
                thing = kind_of(after_next)
                article = {"a", "an"} & set(tokens[max(0, i - 2) : i])
                living = thing is None or (thing in ANIMATE_KINDS and not _verb_agent(after_next))
                head = thing if article and not living else None
        # ... and so is a noun before describing words and the noun they describe: "a giant
        # wooden noria" is a noria, "a baby blue car" a car (set 91 framed "the giant")
        if not head and kind and chained and _pure_adjective(nxt) and not _predicative(nxt):
            stop = i + 1
            while stop < len(tokens) and stop - i <= 3 and _pure_adjective(tokens[stop]):
                stop += 1
            described = tokens[stop] if stop < len(tokens) else ""
            if (
                _noun_like(described)
                and described not in _PHRASE_ENDS
                and not _participle(described)
                and not _agrees_as_verb(tokens, stop)
                and not set(range(i, stop)) & breaks
            ):
                head = kind_of(described) or "thing"
        # (a name before an -ing word is what does it: "a Boeing 747 landing"; a name before a
        # name is one name: "a Great Dane")
        named_doer = i in names and nxt.endswith("ing")
        if i in names and i + 1 in names:
            modifiers.append(token)
            continue
        if (
            kind
            and nxt
            and head
            and i not in breaks  # "a brewery loft, dust in the sunbeams": the loft is the head
            and nxt not in _LOCATIVE
            and not acts
            and not named_doer
            and not _clause_verb(tokens, i + 1)  # "as crows perch along": crows, no modifier
            and not _agrees_as_verb(tokens, i + 1)  # "a cat naps on": the cat, no modifier
        ):
            modifiers.append(token)
            continue
        if kind is None:
            # a word no table knows right before a preposition of place is the subject the
            # parser reads later (parse.unknown_head): what follows is where it is, as after a
            # known subject ("a lone gricer in a vast engineshed" made the shed a subject, so
            # a curving horizon stood inside it, set 106)
            # (or before what it does or is there: "a gricer standing in a barn", "a tedder
            # abandoned in a haybarn")
            then = tokens[i + 2] if i + 2 < len(tokens) else ""
            unknown_subject = unknown_subject or (
                (nxt in _LOCATIVE or (nxt.endswith(("ing", "ed")) and then in _LOCATIVE))
                and _noun_like(token)
                and i not in names
                and token.isalpha()
            )
            if token not in {
                "a",
                "an",
                "the",
                "of",
                "two",
                "three",
                "some",
                "many",
                "his",
                "her",
                "their",
                "its",
            }:
                modifiers.append(token)
            continue
        if (
            kind in PLACE_KINDS
            and nxt == "of"
            and i + 2 < len(tokens)
            and not subjects
            and kind_of(tokens[i + 2])
        ):
            # "a field of grass", "a room of mirrors": the place is the subject
            subjects.append(
                SubjectEntity(
                    noun=f"{token} of {tokens[i + 2]}",
                    kind=kind,
                    modifiers=modifiers,
                )
            )
            modifiers = []
            continue
        if token in _CONTAINERS and nxt == "of" and i + 2 < len(tokens):
            last = _last_noun(tokens, i + 2)  # "a stack of blueberry pancakes": pancakes
            inner = tokens[last]
            inner_kind = kind_of(inner)
            if inner_kind and inner_kind not in PLACE_KINDS:
                entity = SubjectEntity(
                    noun=f"{token} of {inner}",
                    kind=inner_kind,
                    plural=True,
                    modifiers=[*modifiers, *tokens[i + 2 : last]],
                )
                subjects.append(entity)
                modifiers, skip_to = [], last
                continue
        plural = singular(token) != token or token in {"people", "crowd", "family", "couple"}
        entity = SubjectEntity(
            noun=token,
            kind=kind,
            plural=plural,
            modifiers=modifiers,
        )
        modifiers = []
        if (
            kind in PLACE_KINDS
            or (
                locative
                and (
                    kind in {"building", "object", "plant"}
                    or i in names
                    # a vehicle in the phrase that opens the scene with where it is: "In the
                    # wing mirror of a parked lorry, a shepherd leads sheep" (set 75 bound a
                    # vignette to the lorry)
                    or (
                        kind == "vehicle" and opens_with_where and _opening_place(tokens, i, breaks)
                    )
                )
                and (
                    subjects or unknown_subject or opens_with_where or (places and i in names)
                )  # ("a canal
                # in Venice": where the canal is)
            )
            or (locative and part_of is not None and i <= part_of + 4)  # "below the surface
        ):  # of the Atlantic"; (a name where something is, is a place: "a road in Burgundy")
            places.append(entity)
        elif any(s.noun.endswith(f" of {token}") for s in subjects):
            continue
        else:
            subjects.append(entity)
    return subjects[:4], places


@lru_cache(maxsize=1024)
def noun_heads(text: str) -> frozenset[str]:
    """The head nouns of the scene's subjects and places, singular: "a hot dog stand" has a
    stand, not a dog; "a rocket salad", a salad."""
    text = text.replace("\u2019", "'")
    tokens = [t.lower() for t in _WORD.findall(text)]
    subjects, places = _entities(tokens, name_positions(text), calendar_positions(text))
    return frozenset(singular(e.noun.split()[-1]) for e in [*subjects, *places])


def _verb_after_subject(
    token: str, i: int, tokens: list[str], subjects: list[SubjectEntity]
) -> bool:
    """Whether ``token`` is an -ing verb right after a subject that can act (an animal, a
    person, a vehicle): "a mahout bathing an elephant", "a truck soaring over cars"."""
    after = tokens[i + 1] if i + 1 < len(tokens) else ""
    return i > 0 and any(
        _does(s.kind, token, after) and tokens[i - 1] in (s.noun, s.noun + "s") for s in subjects
    )


def _does(kind: str | None, word: str, after: str = "") -> bool:
    """Whether ``word`` after a noun of ``kind`` is what it does: an -ing word after something
    that can act, unless it is a noun of its own kind ("a baby duckling", "a family wedding",
    "a police building") that no object, manner or place follows: what a determiner, an -ly
    adverb or a preposition follows is a verb ("two kids building a snow fort", "a couple dancing
    slowly")."""
    if kind not in ANIMATE_KINDS | {"vehicle"} or not word.endswith("ing"):
        return False
    # ... or a preposition: "a hummingbird drinking from a flower", "a groom dancing under
    # lanterns" (in the 1,270 labelled scenes, no living thing's -ing noun is followed by one)
    verb_next = (
        after in _DETERMINERS
        or _adverb(after)
        or (after in _LOCATIVE | _MOTION_WORDS and _verb_form(word))  # (not "a baby duckling
    )  # in a pond", "a chicken dumpling on a plate", "a family wedding in a barn")
    return kind_of(word) in (None, "object") or verb_next


def _lifeless(entity: SubjectEntity, tokens: list[str]) -> SubjectEntity:
    """An animal or person the prompt makes dead or a depiction is a thing (``lifeless`` in
    ``subjects.yaml``): rotting eels pull no faces, carousel horses droop no ears; so is a noun
    of a person's that holds others ("a coach full of fans")."""
    if entity.kind not in ANIMATE_KINDS:
        return entity
    words = curated_subjects().get("lifeless", {})
    depicted = False
    if entity.noun in tokens:  # "a bronze statue of a (rearing) horse"
        i = tokens.index(entity.noun)
        before = tokens[max(0, i - 5) : i]
        if "of" in before:
            j = len(before) - 1 - before[::-1].index("of")
            depicted = j > 0 and before[j - 1] in words["depictions"]
    # a material word makes an animal a thing ("rusting carousel horses"), but a person's is
    # part of a job title ("a plastic surgeon", "a bronze medalist", "a fossil hunter")
    # (not in an animal's own name: "a stone curlew", "a paper wasp", wordnet_compounds.tsv)
    made = entity.kind not in {"person", "group"} and any(
        m in words["modifiers"] and kind_of(f"{m} {singular(entity.noun)}") not in ANIMATE_KINDS
        for m in entity.modifiers
    )
    # "a coach full of football fans" is a vehicle, not a sports coach: no person holds others
    # (set 81 drew "a flash snapshot with a hard shadow behind the coach")
    name = entity.noun.split()[-1]
    at = tokens.index(name) if name in tokens else -1
    holds = (
        0 <= at < len(tokens) - 2
        and entity.kind == "person"
        and tokens[at + 1] in _HOLDING
        and tokens[at + 2] in ("of", "with")
        # of people or animals ("a man full of joy" is still a man)
        and any(ANIMATE_KINDS & {kind_of(t), kind_of(singular(t))} for t in tokens[at + 3 : at + 6])
    )
    if depicted or made or holds:
        return entity.model_copy(update={"kind": "object"})
    return entity


#: Words before "of" or "with" that make their noun a vessel holding what follows ("a coach
#: full of fans", "a carriage packed with commuters").
_HOLDING = frozenset("full packed crammed filled loaded stuffed crowded".split())


#: Words that may stand between an action and the thing it works on.
_OBJECT_GAP = 3


#: Words after an action that say where or whither, not what it works on ("walking to the bus",
#: "staring out the window"); "down" and "up" are left out: "pulling down the shutters".
_NOT_WORKED = _LOCATIVE | frozenset("to toward towards from out off at for with".split())


def _handled(
    entities: list[SubjectEntity], tokens: list[str], actions: list[str]
) -> list[SubjectEntity]:
    """``entities`` with the things an action of the subject works on marked ``handled``: the
    first lifeless entity within a few words after the action ("a glassblower shaping molten
    glass", "a milliner pulling down the shutters of her shop"; not "a fox asleep in a barn")."""
    marked = list(entities)
    for action in actions:
        if action not in tokens or action in ASLEEP_WORDS:
            continue
        start = tokens.index(action) + 1
        ahead = tokens[start : start + _OBJECT_GAP + 1]
        if any(word in _NOT_WORKED for word in ahead[:1]):
            continue  # "a cat sleeping on a rug", "a girl walking to the bus": where, not what
        for n, entity in enumerate(marked):
            if n == 0 or entity.kind in ANIMATE_KINDS | PLACE_KINDS or entity.implied:
                continue
            head = entity.noun.split()[-1]
            if head in ahead and not set(ahead[: ahead.index(head)]) & _NOT_WORKED:
                marked[n] = entity.model_copy(update={"handled": True})
                break
    return marked


def _with_participants(entities: list[SubjectEntity]) -> list[SubjectEntity]:
    """``entities`` plus the people of an event when the prompt names no one and the event is
    what the prompt shows ("a funeral" -> the mourners), so that postures and expressions get
    an owner who can show them. An event that only places or dates another subject brings no
    one: "a ventriloquist's dummy on a stool after the show" has no performers in it."""
    if not entities or any(e.kind in {"person", "group"} for e in entities):
        return entities
    event = entities[0] if entities[0].kind == "event" else None
    if event is None:
        return entities
    participants = curated_subjects().get("participants", {})
    head = event.noun.split()[-1]
    noun = participants.get(head) or participants.get(singular(head)) or "people"
    return [*entities, SubjectEntity(noun=noun, kind="group", plural=True, implied=True)]


def _actions(tokens: list[str], entities: list[SubjectEntity], text: str = "") -> list[str]:
    """Stated actions of animate subjects (``chewing``, ``reading``, ``asleep``), and of a
    vehicle the verb follows ("a monster truck soaring over crushed cars")."""
    lowered = text.lower()

    def right_after(i: int, nouns: set[str]) -> bool:
        """``tokens[i]`` follows one of ``nouns`` in the text with no comma between ("a cat,
        enchanting lighting" is a style, "a pelican stealing" an action)."""
        return (
            i > 0
            and tokens[i - 1] in nouns
            and (not lowered or re.search(rf"\b{tokens[i - 1]}\s+{tokens[i]}\b", lowered))
            is not None
        )

    if not any(e.kind in ANIMATE_KINDS for e in entities):
        movers = {w for e in entities if e.kind == "vehicle" for w in (e.noun, e.noun + "s")}
        return [
            token
            for i, token in enumerate(tokens)
            if right_after(i, movers)
            and token.endswith("ing")
            and len(token) > 5
            and token not in _NOT_ACTIONS
            and kind_of(token) in (None, "object")
        ]
    expressions = expression_words()
    # right after an animate subject, an emotion-laden -ing word is what it does ("a pelican
    # stealing a sandwich", "camels thundering down a track"), not a mood ("a terrifying storm")
    animate = {w for e in entities if e.kind in ANIMATE_KINDS for w in (e.noun, e.noun + "s")}
    # a count's members end its phrase: "a crew of road workers pours asphalt"
    members = {e.noun.split()[-1] for e in entities if e.kind in ANIMATE_KINDS and " of " in e.noun}
    # one living subject ("a schoolboy"), whose -s verb may follow what describes it
    single = {e.noun for e in entities if e.kind in ANIMATE_KINDS and not e.plural}
    names = name_positions(text) if text else frozenset()
    found = []
    for i, token in enumerate(tokens):
        after = right_after(i, animate)
        if _sleep_word(token, tokens[i - 1] if i else ""):
            found.append(token)
        elif i and tokens[i - 1] in animate and _agrees_as_verb(tokens, i):
            found.append(token)  # the present tense: "a baker slides trays into the oven"
        elif (
            i > 1
            and _true_adverb(tokens[i - 1])
            and tokens[i - 2] in animate
            and _agrees_as_verb([*tokens[: i - 1], *tokens[i:]], i - 1)
        ):
            found.append(token)  # an adverb between: "a girl proudly holds up a cake"
        elif tokens[i - 1] not in found and _verb_past_a_modifier(tokens, i, single, text, names):
            found.append(token)  # "a woman in a red coat sells flowers"
        elif i and tokens[i - 1] in members and _count_verb(tokens, i):
            found.append(token)  # "a team of firefighters battles a blaze"
        elif (
            i
            and tokens[i - 1] in _SUBJECT_PRONOUNS
            and (token in verbs() or singular(token) in verbs())
            and token not in _NOT_ACTIONS
            and token not in _AUXILIARIES
            and singular(token) not in _STILL_VERBS
            and token not in postures()
        ):
            found.append(token)  # a pronoun's verb: "two women laughing as they thresh barley"
        elif (
            after
            and token.endswith("ing")
            and i + 1 < len(tokens)
            # ... or a noun with no determiner: "a harpsichord maker painting flowers" (set 48
            # gave the busy maker "head resting on folded arms, eyes closed")
            and (tokens[i + 1] in _DETERMINERS or _bare_object(tokens, i + 1))
            and token not in expressions
            and _ing_of_a_verb(token)
            and kind_of(token) != "event"  # "a family wedding this summer", "a team meeting"
            and token not in _WHEN
        ):
            # what a determiner follows is a verb, whatever noun the -ing word also is: "a
            # bricklayer building a curved garden wall", "a man painting a fence" (set 36)
            found.append(token)
        elif (
            token.endswith("ing")
            # a short -ing word is a verb's only right after its subject ("a woman tying
            # vines"; not "a thing", "a swing")
            and (len(token) > 5 or (after and _ing_of_a_verb(token) and token not in postures()))
            and token not in expressions
            and (kind_of(token) is None or (after and kind_of(token) == "object"))
            and (token not in attribute_lexicon() or after)
            and token not in _NOT_ACTIONS
        ):
            found.append(token)
    return found


def _sleep_in_base_form(tokens: list[str], entities: list[SubjectEntity]) -> bool:
    """Whether the scene's first subject sleeps by a sleep verb's base form, after it in the
    plural ("two cats nap in the sun") or after two living subjects joined by "and" ("a
    farmer's daughter and a newborn piglet nap side by side", set 77 gave the daughter
    shining eyes): the -s form and the -ing form are read by :func:`_sleep_word`."""
    if not entities:
        return False
    living = {e.noun: e for e in entities if e.kind in ANIMATE_KINDS}
    main = entities[0]
    for k in range(1, len(tokens)):
        token, before = tokens[k], tokens[k - 1]
        if token.endswith("s") or not sleep_base_form(token):
            continue
        if before not in living:
            continue
        if living[before].plural:
            return living[before] is main
        joined = tokens[max(0, k - 7) : k - 1]
        if "and" in joined:
            nouns = {w.removesuffix("'s") for w in joined[: joined.index("and")]} | {before}
            if main.noun in nouns and len(nouns & living.keys()) >= 2:
                return True
    return False


def _opening_place(tokens: list[str], i: int, breaks: frozenset[int]) -> bool:
    """Whether ``tokens[i]`` is in the phrase that opens the scene with where it is, ended by a
    comma with no verb of its own before it: "In the wing mirror of a parked lorry, a shepherd
    ..." (not "Across the desert a truck speeds, dust rising": the truck's own clause)."""
    end = min(breaks, default=-1)
    return i <= end and not any(
        _agrees_as_verb(tokens, j) or _clause_verb(tokens, j) for j in range(i + 1, end + 1)
    )


#: Prepositions that open a phrase describing the subject before its verb ("a woman in a red
#: coat sells flowers", "a boy with muddy boots kicks a ball", "a child in a field of poppies
#: waves").
_DESCRIBING = frozenset({"with", "in", "of", "from", "on"})


def _verb_past_a_modifier(
    tokens: list[str], i: int, single: set[str], text: str, names: frozenset[int]
) -> bool:
    """Whether ``tokens[i]`` is the -s verb of a singular living subject that a prepositional
    phrase describes: "a schoolboy with frost-white eyelashes trudges to class", "a child in a
    field of poppies waves". The -s form agrees with the subject, not with the phrase's noun
    ("eyelashes"); the word before is that noun, and no comma, clause or other verb comes
    between; a participle after it makes the -s word a noun ("sleeves rolled up"), and so does
    the clause ending on it (unless it is mostly a verb) or a singular
    noun with no determiner before it, unless a name ("a girl with hair clips smiles", "a man
    with garden tools", "a boy with ice skates": a compound noun's last word; but "a
    grandmother in Oaxaca grinds corn")."""
    lowered = text.lower()
    if not (i > 2 and _s_verb(tokens[i]) and _noun_like(tokens[i - 1])):
        return False
    after = tokens[i + 1] if i + 1 < len(tokens) else ""
    if after.endswith(("ing", "ed")) or _participle(after):
        return False
    ends = re.search(rf"\b{re.escape(tokens[i])}\b\s*(?:[,;:.!?]|$)", lowered) is not None
    if ends and singular(tokens[i]) not in mostly_verbs():
        return False
    for j in range(i - 2, max(0, i - 9), -1):
        word = tokens[j]
        if word in _DESCRIBING and tokens[j - 1] in single:
            if (
                singular(tokens[i - 1]) == tokens[i - 1]
                and not set(tokens[j:i]) & _DETERMINERS
                and i - 1 not in names
            ):
                return False  # a singular noun with no determiner modifies: "with ice skates"
            subject, verb = re.escape(tokens[j - 1]), re.escape(tokens[i])
            return re.search(rf"\b{subject}\b[^,;:.!?]*?\b{verb}\b", lowered) is not None
        if (
            word in _JOINERS
            or _ing_of_a_verb(word)  # ("red", "faded" go on)
            or _true_adverb(word)  # ("curly", "woolly" go on)
            or _s_verb(word)
            or word in _SUBJECT_PRONOUNS
            or (word not in _DESCRIBING and word not in _DETERMINERS and word in _PHRASE_ENDS)
        ):
            return False
    return False


def _bare_object(tokens: list[str], j: int) -> bool:
    """Whether ``tokens[j]`` opens a noun phrase with no determiner that a verb before it takes
    as its object: a noun the tables know, not a preposition, a time or a verb form ("painting
    flowers", "mending fishing nets"; not "painting at dawn")."""
    word = tokens[j]
    if word in _PHRASE_ENDS or word in _WHEN or word.endswith("ly"):
        return False
    return kind_of(word) is not None and not _agrees_as_verb(tokens, j)


#: Verbs of staying still, seeming or being seen: after a pronoun they state no activity ("as he
#: waits for the tide", "where she rests", "as they look on"). Postures are ``postures()``.
_STILL_VERBS = frozenset("wait rest seem look feel appear remain stay watch gaze stare".split())


#: A verb's helpers: what follows them is the action ("they are dancing": the -ing word).
_AUXILIARIES = frozenset(
    "am is are was were be been have has had do does did can could will would shall should may "
    "might must".split()
)


#: -ing words that are no action of the subject.
_NOT_ACTIONS = frozenset(
    {
        "something",
        "nothing",
        "everything",
        "evening",
        "morning",
        "during",
        "ceiling",
        "building",
        "wedding",
        "painting",
        "king",
        "spring",
        "string",
        "thing",
        "ring",
        "swing",
        "wing",
        "lightning",
        # a verb's helpers and a state, not an activity ("a child being bathed", "dying")
        "being",
        "having",
        "dying",
    }
)


def ing_form(token: str) -> str | None:
    """The -ing expression word of a finite verb: "cries" -> "crying", "laughs" and "laugh" ->
    "laughing", "smiles" -> "smiling", "sobs" -> "sobbing"; ``None`` for no expression."""
    if len(token) < 3 or token.endswith("ing") or token in _FUNCTION_WORDS:
        return None  # (not "his", which "hissing" could come from)
    bases = {token, token[:-1] if token.endswith("s") else token}
    if token.endswith("ies"):
        bases.add(token[:-3] + "y")
    elif token.endswith("es"):
        bases.add(token[:-2])
    forms = _expression_bases()
    return next((forms[b] for b in sorted(bases) if b in forms), None)


@lru_cache(maxsize=1)
def _expression_bases() -> dict[str, str]:
    """The verb each -ing expression word comes from (:func:`_ing_stems`) -> that word."""
    ing = [word for word in expression_words() if word.endswith("ing")]
    return {stem: word for word in ing for stem in _ing_stems(word)}


#: Words of degree before an adverb ("very seriously", "so calmly").
_DEGREE = frozenset("very so quite rather really most too".split())


#: A verb's ending after its subject ("spiralling", "gapes", "waits").
_VERB_ENDING = re.compile(r"(?:ing|s)$")


def _attributes(
    tokens: list[str], entities: list[SubjectEntity], lowered: str = ""
) -> list[EmotionalAttribute]:
    from emotion_director.emotions import _SYNONYMS, EMOTION_WORDS

    nouns = {e.noun for e in entities} | {w for e in entities for w in e.noun.split()}
    lexicon = attribute_lexicon()
    expressions = expression_words()
    out: list[EmotionalAttribute] = []
    living = {w: e.noun for e in entities if e.kind in ANIMATE_KINDS for w in own_words(e, tokens)}
    for token in dict.fromkeys(tokens):
        at = tokens.index(token)
        before = tokens[at - 1] if at else ""
        # right after the subject's name in the text, no comma between ("a girl hugging her
        # puppy, smiling" is the girl's smile, not the puppy's)
        subject = (
            living.get(before)
            if before and re.search(rf"\b{re.escape(before)}\s+{re.escape(token)}\b", lowered)
            else None
        )
        # an expression as a finite verb right after its subject: "a baby cries", "fishermen
        # laugh" (as "crying", "laughing")
        form = token if token in expressions else ing_form(token) if subject else None
        if form not in expressions and (
            token in nouns or kind_of(token) is not None and token not in expressions
        ):
            continue
        owner = next((e.noun for e in entities if token in e.modifiers), None)
        if form in expressions:
            # right after a living subject, an expression is its own ("a couchette attendant
            # yawning as she folds grey blankets": not the blankets', set 65)
            out.append(
                EmotionalAttribute(
                    word=token,
                    emotions=list(expressions[form]),
                    expression=True,
                    owner=subject or owner,
                )
            )
        elif (mood := mood_word(token)) not in (None, token):
            # a mood said as the manner of what a living subject does (an adverb; "lonely" is an
            # adjective, whoever it is said of): "a grocer calmly stacking oranges", "a
            # phrenologist solemnly measuring" (set 97 gave the phrenologist raised eyebrows for
            # amusement, both readers), "a sea lion pup spiralling playfully"; the subject's
            # whose noun or verb it follows (not "a calmly flowing river"), and none for an
            # adverb of vigour ("a chef furiously chopping onions")
            # (past a word of degree: "squinting very seriously"; a verb whose doer is no living
            # thing is the main subject's: "a palmist at a highland ceilidh squinting very
            # seriously" got "eyebrows shot up to the hairline", set 103, both readers)
            k = at - 1
            while k > 0 and tokens[k] in _DEGREE:
                k -= 1
            verb = tokens[k] if k >= 0 else ""
            doer = tokens[k - 1] if k >= 1 and _VERB_ENDING.search(verb) else ""
            main = entities[0].noun if entities and entities[0].kind in ANIMATE_KINDS else None
            owner = (
                subject
                or living.get(verb)  # "a grocer very calmly stacking oranges"
                or living.get(doer)
                or (main if doer and _ing_of_a_verb(verb) else None)
            )
            if owner is not None and token not in curated_subjects().get("vigour_adverbs", []):
                manner = list(curated_moods()[mood or ""])
                out.append(EmotionalAttribute(word=token, emotions=manner, owner=owner))
        elif token in EMOTION_WORDS:
            category = _SYNONYMS.get(token)
            out.append(
                EmotionalAttribute(
                    word=token, emotions=[category.value] if category else [], owner=owner
                )
            )
        elif token in lexicon:
            out.append(EmotionalAttribute(word=token, emotions=list(lexicon[token]), owner=owner))
    return out
