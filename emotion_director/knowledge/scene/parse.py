""":func:`parse_scene`: a prompt read into a
:class:`~emotion_director.knowledge.scene.model.SceneModel`.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

from emotion_director.knowledge.scene.clauses import (
    _actions,
    _attributes,
    _entities,
    _handled,
    _lifeless,
    _sleep_in_base_form,
    _with_participants,
)
from emotion_director.knowledge.scene.conflicts import (
    DENIED,
    _stated_look,
    negation,
    palette_words,
    phrase_facts,
    set_before_electric_light,
)
from emotion_director.knowledge.scene.heads import (
    _agrees_as_verb,
    _break_positions,
    _name_modifies,
    _phrase_head,
    calendar_positions,
    name_positions,
    unknown_head,
)
from emotion_director.knowledge.scene.language import (
    _after_opening,
    _opening_clause,
    _unnamed,
    detect_language,
    pronoun_subject,
)
from emotion_director.knowledge.scene.lexicon import (
    _AFTER_A_STORM,
    _BEFORE_DAWN,
    _CLOUDLESS,
    _HOME_ROOMS,
    _IN_A_STORM,
    _INSIDE_AT,
    _OPEN_SITES,
    _PHRASE_ENDS,
    _PLACE_LIKE,
    _STATED_LIGHT,
    _STRUCTURES,
    _WORD,
    _absent,
    _compound_first,
    _inside_a_room,
    _names_a_window,
    _said_of_a_storm,
    _vocal,
    clock_words,
    curated_subjects,
    kind_of,
    postures,
    singular,
    without_measures,
)
from emotion_director.knowledge.scene.model import SceneModel, SubjectEntity, _sleeper
from emotion_director.knowledge.scene.phrases import (
    _destination,
    _exerts,
    _framing,
    _medium_words,
    _set_down,
    _stays_put,
    _travels,
)
from emotion_director.knowledge.scene.vocabulary import (
    _AT_THE_SURFACE,
    _BENEATH,
    _BREAKS,
    _DETERMINERS,
    _DRIED,
    _EMPTY,
    _FACTS,
    _FRESH_WATER,
    _FROZEN,
    _GROUND,
    _ICE_PAIRS,
    _JOINERS,
    _LOCATIVE,
    _OPENERS,
    _SETTLED,
    _SUBJECT_PRONOUNS,
    _WINDOW_LIGHTS,
    BODY_FACTS,
    FACT_WORDS,
    KIND_FACTS,
    PRIVATE_SITES,
    _asleep_at,
    _out_of_the_water,
    _said_in,
    bare_pronoun,
)


def _main_clause_at(tokens: list[str], start: int) -> bool:
    """Whether a clause with a subject and a verb of its own starts at ``start``, after an
    opening a conjunction led: a subject pronoun ("..., he tosses the last crate aboard") or a
    finite verb within the next five words ("..., a porter tosses the last crate"); not a noun
    with a participle ("While a baker slides loaves into the oven, flour drifting in the warm
    light"), where the opening's subject stays the scene's."""
    if start < len(tokens) and bare_pronoun(tokens[start]) in _SUBJECT_PRONOUNS:
        return True
    return any(_agrees_as_verb(tokens, k) for k in range(start + 1, min(start + 6, len(tokens))))


#: What a medium's own words state of a place, besides a site, which a picture made as it is
#: not in ("stained glass window of ...": no window).
_MEDIUM_PLACES = frozenset({"window"})


#: What follows an -ing form used as a verb: a preposition, a joiner ("laughing at", "singing
#: and"); a noun after it is what it describes instead ("the howling wind").
_AFTER_A_VERB = _LOCATIVE | _JOINERS | frozenset({"to", "as", "for", "from"})


def _vocal_after(tokens: list[str], i: int, subject_at: int | None) -> bool:
    """Whether ``tokens[i]`` is the -ing form of a vocal verb said of the main subject (at
    ``subject_at``) a few words after it, used as a verb: "a drag queen in dripping sequins
    laughing mid-wobble" (set 116, both readers: "cheeks puffed out like a hamster"); not "a
    deer listening to the howling wind"."""
    if subject_at is None or not subject_at < i <= subject_at + 6 or not tokens[i].endswith("ing"):
        return False
    following = tokens[i + 1] if i + 1 < len(tokens) else ""
    return _vocal(tokens[i], tokens[subject_at]) and (
        not following
        or following in _AFTER_A_VERB
        or following.startswith("mid-")
        or following.endswith("ly")
    )


@lru_cache(maxsize=2048)
def parse_scene(text: str) -> SceneModel:
    """Parse a prompt into a :class:`SceneModel` (pure, no model call; cached per text: one
    request, its eval metrics and the report parse the same prompt many times)."""
    source = text
    text = text.replace("\u2019", "'")  # "a ventriloquist’s dummy" as typed on a phone
    text = clock_words(text)  # "at 3 a.m." -> "at night": digits are no words here
    text = without_measures(text)  # "a cat the size of a dog": a cat
    english, note = detect_language(text)
    lowered = text.lower()
    tokens = [t.lower() for t in _WORD.findall(text)]
    entities, places = (
        _entities(tokens, name_positions(text), calendar_positions(text), _break_positions(text))
        if english
        else ([], [])
    )
    entities = [_lifeless(entity, tokens) for entity in entities]
    # a clause naming the picture's colours ("..., pale blue and silver palette") names no thing
    # in it (set 110 bound "the palette covered in frost ferns" to one, both readers)
    coloured = palette_words(lowered)
    entities = [e for e in entities if e.noun not in coloured]
    places = [p for p in places if p.noun not in coloured]
    # a noun right after a subject's verb of travel is where it goes, not where the scene is:
    # "a fishing boat coming home at dusk", "commuters heading downtown"
    gone = {e.noun for e in entities + places if _destination(e.noun, tokens, entities)}
    entities = [e for e in entities if e.noun not in gone]
    places = [p for p in places if p.noun not in gone]
    opening = _opening_clause(tokens, lowered)
    if opening and tokens[0] in _OPENERS and not _main_clause_at(tokens, opening):
        opening = 0  # "While a baker slides loaves into the oven, flour drifting": the baker
    if opening:  # "Parked beside a dune, the cargo rover waits": the rover, which is parked
        entities = _after_opening(entities, tokens, opening)
    facts: set[str] = set()
    for entity in entities:
        facts |= entity.facts
        if entity.noun in _STRUCTURES:
            facts.add("structure")
    entered = False  # the subjects are inside a building the prompt names
    lights: set[str] = set()  # a sun or a moon shines in through a window too (below)
    for place in places:  # where the subjects are: its setting, not its size
        if singular(place.noun) in _WINDOW_LIGHTS:
            lights |= KIND_FACTS[place.kind] - {"large", "small"}
            continue
        facts |= KIND_FACTS[place.kind] - {"large", "small"}
        if place.kind != "building":
            continue
        said_in = _said_in(place.noun, lowered)
        if singular(place.noun) in _OPEN_SITES and said_in != "inside":
            facts.add("outdoor")  # (a tunnel's site states underground, which overrides it)
        else:  # "in a church" is inside it, "at a church" or "outside a pub" outside
            inside = said_in is not None or (
                place.noun in _INSIDE_AT
                and not re.search(rf"\boutside\s+(\w+\s+){{0,2}}{re.escape(place.noun)}\b", lowered)
            )
            facts.add("indoor" if inside else "outdoor")
            entered = entered or said_in is not None
    if any(e.kind == "bird" for e in entities) and any(
        p.kind in {"object", "plant"}
        and re.search(rf"\b(on|in|at)\s+(\w+\s+){{0,2}}{re.escape(p.noun)}\b", lowered)
        for p in places
    ):
        facts.add("perched")  # "an owl on a branch": not in flight ("a bird near a tree" may be)
    # a word the scene denies states nothing ("no wind", "not a cloud in the sky")
    # (the negators too: these words have lost their marks, and a denial ends at a mark)
    denied, negators, denial_facts = negation(text)
    present = [DENIED if i in denied | negators else t for i, t in enumerate(tokens)]
    unnamed = [t for t in _unnamed(present, entities, lowered) if t not in gone]
    stated = phrase_facts(" ".join(unnamed)) | denial_facts if english else frozenset()
    # a subject's own body words ("a dog's tail") state nothing about the body plan needs
    facts |= stated - BODY_FACTS - {"acting", "awake", "animate"}
    # what the picture is made as is in no place ("stained glass window of a coalman ..." is no
    # church window, set 100); its look stays ("still life of", "long exposure of")
    framed_by = set(_medium_words(tokens))  # (its words state no setting below either)
    if framed_by:
        medium = " ".join(tokens[i] for i in sorted(framed_by))
        unframed = " ".join(t for i, t in enumerate(present) if i not in framed_by)
        facts -= {
            f
            for f in phrase_facts(medium) - phrase_facts(unframed)
            if f.startswith("site:") or f in _MEDIUM_PLACES
        }
    # a home the scene names as a thing, not as where the subjects are ("decorates a cottage",
    # "a farmhouse at noon", "a van pulling away from a farmhouse"), is seen from outside as
    # often as from in: no indoors, no table (other sites state a kind of place, in or out)
    for entity in entities:
        if entity.kind == "building" and entity.noun in present:
            elsewhere = " ".join(t for t in present if t != entity.noun)
            facts -= {
                f
                for f in phrase_facts(entity.noun) - phrase_facts(elsewhere)
                if f.startswith("site:") and f[5:] in PRIVATE_SITES
            }
    curated = curated_subjects()
    # a compound's first word names no setting: "a window cleaner's cradle" is not indoors,
    # nor does what the picture is made as
    said = {
        t
        for i, t in enumerate(tokens)
        if not (_compound_first(tokens, i) or _absent(tokens, i) or i in framed_by)
        and t not in gone
    }
    for fact in curated["settings"]:
        words = set(curated["settings"][fact])
        if words & said or {singular(t) for t in said} & words:
            facts.add(fact)
    # a pier or a marina on a lake is not by the sea; "a sea of faces" is a crowd
    if said & _FRESH_WATER or re.search(r"\bsea of\b", lowered):
        facts.discard("sea")
    # water said to be frozen ("a frozen harbour", "a lake iced over", "pack ice"): no waves
    waters = set(FACT_WORDS["water"]) | {"bay", "fjord", "canal"}
    dried = False
    for i, token in enumerate(tokens):
        ahead = list(itertools.takewhile(lambda t: t not in _BREAKS, tokens[i + 1 : i + 5]))
        head = ahead[-1] if ahead else ""
        after = tokens[i + 1 + len(ahead) : i + 4 + len(ahead)]  # "of the lake"
        # "a frozen harbour", "a frozen mountain lake", "a lake iced over", "pack ice"; the
        # water is the first or second word after "frozen", whatever follows it ("a frozen
        # fjord beneath the northern lights")
        water = next((t for t in ahead[:2] if t in waters), None)
        if water is not None:  # the water is the head: "a frozen water bottle" is a bottle
            after_water = ahead[ahead.index(water) + 1 : ahead.index(water) + 2]
            if after_water and kind_of(after_water[0]) and after_water[0] not in _LOCATIVE:
                water = None
        frozen = token in _FROZEN and water is not None
        iced_over = token in _FROZEN and tokens[i + 1 : i + 2] == ["over"]
        if frozen or (iced_over and tokens[i - 1 : i] and tokens[i - 1] in waters):
            facts.add("icebound")
        if token in _DRIED and water is not None:
            dried = True  # "a dried-up soda lake": no water to reflect, no jetty, no sea
        # "a sunken cargo ship" lies under water ("sunken cheeks" do not)
        if token == "sunken" and any(kind_of(t) == "vehicle" for t in tokens[i + 1 : i + 3]):
            facts.add("submerged")
        # "an empty airport", "a deserted seaside pier": no one there (not "an empty bottle")
        if token in _EMPTY and any(kind_of(t) in _PLACE_LIKE for t in ahead[-1:]):
            facts.add("alone")
        if tokens[i : i + 2] in _ICE_PAIRS and re.search(
            rf"\b{token}\s+{tokens[i + 1]}\b", lowered
        ):
            facts.add("icebound")  # (with no comma between: "by the sea, ice cream melting")
        # "a narwhal beneath the arctic pack ice", "divers below the surface (of a lake)"; not
        # "under the sea of clouds", "under the river bridge", "below the surface of the sand"
        if token in _BENEATH and (head in waters or head == "ice"):
            if not (after[:1] == ["of"] and head != "surface"):
                facts.add("submerged")
        further = tokens[i + 1 + len(ahead) : i + 6 + len(ahead)]  # "of a cold blue bay"
        if token in _BENEATH and head == "surface" and (not after or waters & set(further)):
            facts.add("submerged")
        # "a chapel carved deep beneath a Polish village", "a sewer worker beneath the streets
        # of Paris": below the ground (not "under an oak tree", "beneath the sea")
        if token in _BENEATH and head and head not in waters | {"ice", "surface", "snow"}:
            # ("the Earth turns far below in the blackness" has no head)
            under = singular(_phrase_head(ahead))
            if under in _SETTLED or (tokens[i - 1 : i] == ["deep"] and under in _GROUND):
                facts.add("subterranean")
    if dried:
        facts -= {"water", "sea"}
        facts.add("dry")
    # the first clause only: "dramatic lighting, a dog" leads with a style, not a subject
    # (after an opening clause, the main clause's: "Wrapped in oilskins, a trawlerman hauls")
    clauses = text.split(",", 2)
    main = clauses[1] if opening and len(clauses) > 1 else clauses[0]
    cased = _WORD.findall(main)
    first = [t.lower() for t in cased]
    framing = _framing(first)
    cased, first = cased[framing:], first[framing:]  # "close up of a stack of pancakes": pancakes
    nouns = {e.noun for e in entities}
    pronoun = pronoun_subject(tokens, opening, nouns) if english else None
    # (a pronoun opens the main clause: it is the subject, whatever noun no table knows follows)
    head = unknown_head(first) if english and pronoun is None else None  # (not "hired", "parked")
    if head is not None and head in first:
        at = first.index(head)
        if cased[at][:1].isupper() and _name_modifies(first, at, frozenset({at})):
            head = None  # a name that styles the noun after it: "Faroese turf-roofed boathouses"
    if head is not None and any(e.noun.startswith(f"{head} of ") for e in entities):
        head = None  # "a pair of fennec foxes": the foxes are the subject
    if head is not None:  # "a welder repairing a hull": the welder, not the hull, is the subject
        known = [e for e in entities if e.noun == head]  # read by the parser ("a bell founder")
        # the nouns before it in its phrase modify it: "a top fuel dragster" has no fuel in it
        before = first[: first.index(head)] if head in first else []
        while before and before[0] in _DETERMINERS:
            before.pop(0)
        modifiers = set(before) if not set(before) & _PHRASE_ENDS else set()
        rest = [e for e in entities if e.noun != head and e.noun not in modifiers]
        entities = [*(known[:1] or [SubjectEntity(noun=head, kind="thing")]), *rest]
    if (
        len(entities) > 1
        and entities[0].kind == "thing"
        and entities[0].noun in entities[1].modifiers
        and re.search(rf"\b{re.escape(entities[0].noun)}\s*,\s*(a|an|the)\b", lowered)
    ):
        entities = entities[1:]  # "Maria, a street vendor": the vendor, whom the name names
    if pronoun is not None:  # "She reads by the window": a woman reading, not the window
        verb = tokens[opening + 1] if opening + 1 < len(tokens) else ""
        entities = [pronoun, *(e for e in entities if e.noun != verb)]  # ("she smiles")
    if not entities and places:  # a place alone ("a field of grass") is the subject itself
        entities, places = places[:1], places[1:]
        facts |= entities[0].facts
    if english and set_before_electric_light(lowered):
        facts.add("period")  # "1880s London fog", "a Victorian orphan": no strip light, no neon
    if _STATED_LIGHT.search(lowered):
        facts.add("lit")  # "under flickering fluorescent light", "by lamplight", "moonlit"
    if _inside_a_room(lowered):
        facts.add("indoor")  # "a cat inside, watching the rain" ("inside a tulip" is no room)
    if _BEFORE_DAWN.search(lowered):
        # "before sunrise", "pre-dawn": the sun words name what has not come yet (set 43: "a
        # windless blue sky" and "soft golden hour glow" for a rubber tapper before sunrise)
        facts -= {"sunny", "day", "midday", "afternoon"}
        facts.add("night")
    if _said_of_a_storm(_AFTER_A_STORM, lowered) and not _said_of_a_storm(_IN_A_STORM, lowered):
        facts -= {"storm", "snowing", "downpour", "windy", "rain", "drizzle"}
        facts.add("passed_storm")  # (which takes the storm out of a meaning reader's tags too)
    if _CLOUDLESS.search(lowered) and "day" in facts and not facts & {"night", "dark", "evening"}:
        facts.add("sunny")  # no cloud by day is sunshine; at dusk or at night the sun has gone
    facts |= _stated_look(lowered)
    if coloured:
        facts.add("palette")  # the user's own colours: the rewrite adds none
    if "masked" in facts and not any(e.kind in {"person", "group"} for e in entities):
        facts.discard("masked")  # a species: "a masked booby", "a veiled chameleon"
    if not ("indoor" in facts and "outdoor" not in facts):
        facts |= lights  # "a dog on a sofa, morning sun" stays indoors, "a dog in the sun" not
    if "indoor" in facts and "outdoor" in facts:
        # "a woman at a window looking at the rain": the subject's own room wins
        # and so does a building they are in ("a gardener in a greenhouse during spring rain")
        window = _names_a_window(tokens)
        # and so does a home's room ("a carver at a kitchen table during a January blizzard":
        # the blizzard is outside; set 48 got "bloody paw prints on the snow")
        home = bool(facts & _HOME_ROOMS)
        if any(e.kind == "room" for e in [*entities, *places]) or window or entered or home:
            facts.discard("outdoor")
        else:
            facts.discard("indoor")
    # a fish in the water is under it, unless it breaks the surface ("a manta ray gliding over
    # a coral wall in deep blue water"; not "a dolphin leaping out of the waves")
    if (
        entities
        and entities[0].kind == "fish"
        and (set(tokens) & set(FACT_WORDS["water"]) or "water" in facts)
        and not set(tokens) & _AT_THE_SURFACE
        and not _out_of_the_water(tokens)
    ):
        facts.add("submerged")
    entities = _with_participants(entities)
    facts |= {fact for entity in entities if entity.implied for fact in entity.facts}
    actions = _actions(tokens, entities, text)
    if actions:
        facts.add("busy")
        entities = _handled(entities, tokens, actions)
    if _exerts(tokens, actions, entities):
        facts.add("exerting")  # "a fencer lunging at her opponent": no slack shoulders
    sleepers = [_sleeper(tokens, k, entities) for k in _asleep_at(tokens)]
    if any(sleeper is None or sleeper is entities[0] for sleeper in sleepers):
        facts |= {"asleep", "busy"}  # (a sleeper no table knows: "a sleeping quokka")
    elif sleepers and None not in sleepers:
        facts.discard("asleep")  # another's sleep ("a fisherman mending nets, gulls dozing on
        # the rail"): the subject's eyes may be open
    if _sleep_in_base_form(tokens, entities):
        facts |= {"asleep", "busy"}
    if "asleep" in facts or (
        entities and (_stays_put(tokens, entities[0]) or (opening and tokens[0] in postures()))
    ):
        facts.add("stationary")  # "a snow leopard perched on a ledge": not racing past the lens
    elif entities and _travels(tokens, entities[0], actions):
        facts.add("moving")  # "a rally car racing along a forest road": its own travel
    elif entities and not actions and _set_down(tokens, entities[0]):
        facts.add("stationary")  # "a vintage camera on a wooden desk": not flipping through
        # the air (set 34), nor "mid-bounce, frozen in the air"
    subject_at = tokens.index(entities[0].noun) if entities and entities[0].noun in tokens else None
    if any(
        _vocal(token, tokens[i - 1] if i else "")
        or (token.endswith("ing") and _vocal(token, tokens[i + 1] if i + 1 < len(tokens) else ""))
        or _vocal_after(tokens, i, subject_at)
        for i, token in enumerate(tokens)
    ):  # "a purser shouting", "a wolf howls", "a screaming child"
        facts.add("vocal")  # "a purser shouting at stranded passengers": the mouth is open
    if any(
        _vocal(token, tokens[i - 1] if i else "", _FACTS.mouth_verbs)
        for i, token in enumerate(tokens)
    ):
        facts.add("mouth_busy")  # "a handler whistling as a collie pens ewes": lips pursed
    time = next(
        (t for t in ("night", "twilight", "midday", "morning", "evening", "day") if t in facts),
        None,
    )
    weather: list[str] = [
        w for w in ("rain", "storm", "fog", "winter", "clear", "windy") if w in facts
    ]
    setting: list[str] = [
        s for s in ("indoor", "outdoor", "urban", "wild", "water", "sky") if s in facts
    ]
    attributes = _attributes(tokens, entities, lowered) if english else []
    return SceneModel(
        text=source,
        entities=entities,
        places=places,
        setting=setting,
        time_of_day=time,
        weather=weather,
        actions=actions,
        attributes=attributes,
        english=english,
        language_note=note,
        facts=frozenset(facts),
    )
