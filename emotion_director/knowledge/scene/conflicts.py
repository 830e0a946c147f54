"""The facts a phrase asserts (:func:`phrase_facts`) and when they contradict a scene's
(:func:`contradiction`, :func:`facts_conflict`): a body part no subject has, opposite facts (night
against day, indoor against outdoor), a place that is not part of the stated one.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from typing import Literal, NamedTuple

from emotion_director.knowledge.scene.lexicon import (
    _WORD,
    _ing_of_a_verb,
    _tsv_pairs,
    body_parts,
    curated_subjects,
    kind_of,
    noun_facts,
    singular,
    verbs,
)
from emotion_director.knowledge.scene.vocabulary import (
    _DETERMINERS,
    _GAP_BREAKS,
    _JOINERS,
    _LOCATIVE,
    _OPPOSITE,
    ANIMATE_KINDS,
    BODY_FACTS,
    DISTANT_WORDS,
    FACT_WORDS,
    FIGURES_OF_SPEECH,
    NOT_PLACES,
    OPPOSITES_UNLESS,
    PRIVATE_SITES,
    SITES,
    _sites,
    gapped_facts,
    sites_compatible,
)

#: Facts whose words may be written as an adjective in -y ("drizzly" rain, "sleety" snowfall).
_INFLECTED_FACTS = ("rain", "storm", "fog", "snowing", "winter", "windy", "night", "twilight")


def _stem(word: str) -> str:
    """A crude stem that puts a noun and its adjective in -y together: drizzle, drizzly ->
    drizzl; fog, foggy -> fog; sleet, sleety -> sleet."""
    for suffix in ("y", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # "fogg" -> "fog"
    return word


@lru_cache(maxsize=1)
def _weather_stems() -> dict[str, frozenset[str]]:
    """Stem -> facts, for the one-word nouns of the weather and time facts (not their -ing
    forms: "whipping" wind says nothing of "whipped" cream)."""
    stems: dict[str, set[str]] = {}
    for fact in _INFLECTED_FACTS:
        for key in FACT_WORDS[fact]:
            if " " not in key and "-" not in key and not key.endswith("ing"):
                stems.setdefault(_stem(key), set()).add(fact)
    return {stem: frozenset(facts) for stem, facts in stems.items()}


def _inflected_facts(words: list[str]) -> set[str]:
    """Facts of weather and time words written as an adjective in -y that no list names:
    "a drizzly spring morning" (rain), "a sleety dusk", "a dusky harbour"; or as the first part
    of a participle: "a rain-lashed mountainside" (rain), "a storm-tossed deck", "fog-bound"."""
    stems = _weather_stems()
    found = {
        fact
        for word in words
        if word.endswith("y") and len(word) >= 5 and kind_of(word) is None  # not "a nighty"
        for fact in stems.get(_stem(word), ())
    }
    for word in words:
        first, _, last = word.partition("-")
        if last and (last.endswith("ed") or last in _PARTICIPLES) and "-" not in last:
            # weather only, done to the place: "a moon-shaped pendant" is no night, "a
            # snow-capped peak" in summer no winter
            found |= stems.get(_stem(first), frozenset()) & _WEATHER_DONE
    return found


#: Weather that a participle can say was done to a place ("rain-lashed", "storm-tossed",
#: "mist-shrouded", "wind-swept", "sleet-streaked").
_WEATHER_DONE = frozenset({"rain", "storm", "fog", "snowing", "windy"})


@lru_cache(maxsize=1)
def _weather_table() -> dict[str, frozenset[str]]:
    """Weather nouns no fact-word list names (``wordnet_weather.tsv``) -> the facts they state;
    the curated lists win over WordNet for the words they name ("snow" on the ground is
    ``snowbound``, not snowfall)."""
    listed = {w for keys in FACT_WORDS.values() for key in keys for w in key.split()}
    table = _tsv_pairs("wordnet_weather.tsv")
    return {
        noun: frozenset(facts.split(",")) for noun, facts in table.items() if noun not in listed
    }


def _weather_nouns(words: list[str]) -> set[str]:
    table = _weather_table()
    found: set[str] = set()
    for word in words:
        found |= table.get(word) or table.get(singular(word)) or frozenset()
    return found


#: Word runs -> what they name: keyed by the run of words, so that a phrase is read in one pass
#: over its own words rather than one substring test per key (~1,400 keys of facts and sites).
_Runs = dict[tuple[str, ...], frozenset[str]]


def _runs_of(keys: dict[str, tuple[str, ...]]) -> tuple[_Runs, int]:
    """``{value: its keys}`` -> ``({a key's words: the values it names}, the longest key in
    words)``; keys with a gap (``*``) are matched by :func:`gapped_facts` instead."""
    runs: dict[tuple[str, ...], set[str]] = {}
    for value, words in keys.items():
        for key in words:
            if "*" not in key:
                runs.setdefault(tuple(key.split()), set()).add(value)
    return {run: frozenset(v) for run, v in runs.items()}, max(map(len, runs), default=0)


@lru_cache(maxsize=1)
def _fact_runs() -> tuple[_Runs, int]:
    return _runs_of(FACT_WORDS)


@lru_cache(maxsize=1)
def _site_runs() -> tuple[_Runs, int]:
    return _runs_of(SITES)


def _named_in(text: str, runs: tuple[_Runs, int]) -> set[str]:
    """What the word runs of ``text`` (single-spaced words) name: the same as testing
    ``f" {key} " in text`` for every key, in one pass over its words."""
    table, longest = runs
    words = text.split()
    found: set[str] = set()
    for i in range(len(words)):
        for n in range(1, min(longest, len(words) - i) + 1):
            found |= table.get(tuple(words[i : i + n]), frozenset())
    return found


#: A phrase's words and the marks between them, for keys with gaps.
_WORD_OR_MARK = re.compile(_WORD.pattern + r"|[,;:.!?()\u2013\u2014]", re.UNICODE)


#: Words that deny what follows them in their phrase ("no wind", "not a cloud", "without snow").
_NEGATORS = frozenset({"no", "not", "without", "never"})
#: Words that carry a denial on to the next word ("no wind or rain", "not a drop of rain"); any
#: other gap break, a mark or a fifth word ends it ("without a coat in the rain" denies the
#: coat, not the rain).
_NEGATION_GOES_ON = frozenset({"or", "nor", "of"})


#: What a denied word becomes: a word that names nothing, so that the words on either side of
#: it do not meet ("a ferry deck, no passengers, wind howling" is not "no wind").
DENIED = "xdeniedx"


class Negation(NamedTuple):
    """What a text denies (:func:`negation`), positions counted in its words."""

    denied: frozenset[int]
    negators: frozenset[int]
    stated: frozenset[str]


@lru_cache(maxsize=8192)
def negation(text: str) -> Negation:
    """What ``text`` denies: the positions, counted in its words, of the words a negator denies
    ("no wind", "not a cloud in the sky", "not rainy": they state nothing) and of the negators,
    and the facts of the denials that are a fact's own key, no noun after it ("no wind" states
    still air, "no moon" a moonless night, "no people anywhere" nobody there; not "no wind
    turbines").

    A denial runs over up to six words after its negator, the first always, then to a mark or a
    word that starts another phrase ("without a coat in the rain" denies the coat); "or", "nor"
    and "of" carry it on ("no wind or rain", "not a single drop of rain").

    Example:
        >>> negation("a lamp at night, no wind or rain, flames still")
        Negation(denied=frozenset({5, 7}), negators=frozenset({4}), stated=frozenset({'still'}))
    """
    # each word lowered alone: a capital that lowers to two characters ("İ") splits no word
    items = _WORD_OR_MARK.findall(text)
    is_word = [bool(_WORD.fullmatch(item)) for item in items]
    marked = [item.lower() for item in items]
    table, longest = _fact_runs()
    denied: set[int] = set()
    negators: set[int] = set()
    stated: set[str] = set()
    numbers = [n - 1 for n in itertools.accumulate(is_word)]
    for k, item in enumerate(marked):
        if item not in _NEGATORS:
            continue
        negators.add(numbers[k])
        words = itertools.takewhile(
            lambda j: is_word[j], range(k, min(k + longest + 1, len(marked)))
        )
        after = [marked[j] for j in words]
        ends = [
            n
            for n in range(2, min(len(after), longest) + 1)
            if tuple(after[:n]) in table and (n == len(after) or kind_of(after[n]) is None)
        ]
        if ends:  # "no moon", "not a soul": the key says what the denial states
            stated |= table[tuple(after[: ends[-1]])]
        for j in range(k + 1, min(k + 7, len(marked))):
            word = marked[j]
            if not is_word[j]:
                break
            if j > k + 1 and word in _GAP_BREAKS and word not in _NEGATION_GOES_ON:
                break
            if word not in _NEGATION_GOES_ON:
                denied.add(numbers[j])
    return Negation(frozenset(denied), frozenset(negators), frozenset(stated))


#: Words that end a simile's likeness: a preposition, a joiner or a mark ("glitters like falling
#: snow in the dive lights").
_SIMILE_ENDS = _LOCATIVE | _JOINERS | frozenset("as , . ; : ! ?".split())


#: Likenesses ``facts.yaml`` lists as stating a fact ("like polished glass": still water).
_LISTED_LIKENESS = re.compile(
    "|".join(
        re.escape(key) + r"\b"
        for keys in FACT_WORDS.values()
        for key in keys
        if key.startswith("like ")
    )
    or r"(?!)"
)


def _without_similes(words: list[str]) -> list[str]:
    """``words`` without what a simile compares to: "a pteropod swarm glitters like falling snow
    in the dive lights" states no snow (set 117, both readers: frost patterns at a seabed
    habitat), nor "sparkling like diamonds" any diamond; the simile runs from "like" to the
    next preposition, joiner or mark, four words at most."""
    kept: list[str] = []
    skipping = 0
    for i, word in enumerate(words):
        if skipping and word not in _SIMILE_ENDS:
            skipping -= 1
            continue
        skipping = 0
        if word == "like" and kept and not _LISTED_LIKENESS.match(" ".join(words[i:])):
            skipping = 4
            continue
        kept.append(word)
    return kept


@lru_cache(maxsize=8192)
def phrase_facts(text: str) -> frozenset[str]:
    """Facts a phrase asserts or needs (``"cold moonlight"`` -> ``{"night"}``).

    A phrase that brings its own agent ("a cat dozing on the windowsill", "riders with arms
    thrown up") needs no body from the scene's subjects. Cached: a rewrite asks about the same
    concepts once per persona, and the word tables do not change while the program runs.
    """
    # what a negator denies states nothing: "no wind" is no wind (a key such as "no moon" stays)
    denied, _, denial_facts = negation(text)
    if denied:
        kept = iter(range(len(_WORD.findall(text))))
        text = _WORD_OR_MARK.sub(
            lambda m: DENIED if _WORD.fullmatch(m.group()) and next(kept) in denied else m.group(),
            text,
        )
    # "a stained bathroom's dim mirror light" is in a bathroom
    words = [w[:-2] if w.endswith("'s") else w for w in _WORD.findall(text.lower())]
    lowered = " " + " ".join(_without_similes(words)) + " "
    for phrase, neutral in FIGURES_OF_SPEECH.items():
        lowered = lowered.replace(phrase, neutral)
    lowered = _coloured_haze(lowered)
    found = _named_in(lowered, _fact_runs()) | denial_facts
    # a gap never crosses a mark: "a bright lamp, grey afternoon" is no bright afternoon
    marked = [w[:-2] if w.endswith("'s") else w for w in _WORD_OR_MARK.findall(text.lower())]
    spaced = " " + " ".join(_without_similes(marked)) + " "
    for phrase, neutral in FIGURES_OF_SPEECH.items():
        spaced = spaced.replace(phrase, neutral)
    spaced = _coloured_haze(spaced)
    # an -ing form of a verb ends a gap; "spring" does not ("a bright spring afternoon", set 92)
    found |= gapped_facts(spaced.split(), _ing_of_a_verb)
    found |= _inflected_facts(words)  # "drizzly", "sleety", "dusky"
    found |= _weather_nouns(words)  # "a typhoon", "a cloudburst", "the mistral", "a whiteout"
    if "moonless" in found:
        found.discard("moon")  # "no moon" names the moon it denies
    # a palette names colours, not places ("jungle green and gold palette")
    if " palette " not in lowered and not any(f" {key} " in lowered for key in DISTANT_WORDS):
        # a simile puts nothing there: "roots like a cathedral", "like a stage spot"
        placed = lowered.split(" like ")[0] + " "
        for name in NOT_PLACES:
            placed = placed.replace(f" {name} ", " ")
        sites = _named_in(placed, _site_runs())
        found |= {f"site:{site}" for site in sites}
        if sites & PRIVATE_SITES:
            found.add("private")
    # "a crocodile's eyes": the eyes are the crocodile's own
    for word in words:
        kind = None if word in body_parts() else kind_of(word)
        if kind in ANIMATE_KINDS:  # a horse named in the phrase still has no paws
            found -= noun_facts(word, kind) & BODY_FACTS
            found -= {"animate", "flying"}  # "a crow soaring overhead" flies, not the subject
    return frozenset(found)


def contradiction(
    facts: frozenset[str] | set[str], phrase: str, needs: frozenset[str] | set[str] = frozenset()
) -> str | None:
    """Why ``phrase`` (with extra ``needs``) contradicts a scene with these facts, or ``None``."""
    own = phrase_facts(phrase) | set(needs)
    return facts_conflict(facts, own, phrase)


@lru_cache(maxsize=None)  # one per section: a smaller cache rebuilt them for every clause
def _phrases_pattern(
    section: Literal[
        "framing",
        "aerial",
        "close",
        "downward",
        "monochrome",
        "silhouette",
        "drawn",
        "drawn_monochrome",
        "photographed",
        "soft_look",
        "hard_look",
    ],
) -> re.Pattern[str]:
    """A phrase of ``section`` among the first three words of a clause ("isometric ...",
    "..., macro, ...", "an aerial view of ..."; not "a photographer with a telephoto lens"),
    after a verb of making the picture if one opens it ("printed as a cyanotype", "shot in
    black and white", "rendered as pixel art")."""
    phrases = sorted(curated_subjects().get(section, []), key=len, reverse=True)
    return re.compile(
        r"^(?:"
        + _MADE_AS
        + r")?(?:[\w'-]+\s+){0,2}?("
        + "|".join(map(re.escape, phrases))
        + r")(?![\w'-])"
    )


#: A verb of making the picture and its preposition, before the look it names.
_MADE_AS = (
    r"(?:printed|shot|rendered|done|developed|photographed|filmed|drawn|painted|made|captured)"
    r"\s+(?:as|in|on|with)\s+"
)


#: Words after "black and white" or "sepia" that make it the picture's own ("black and white
#: photo of", "sepia tones", "cyanotype of"), not a thing's colour ("a black and white cat").
_LOOK_WORDS = frozenset(
    "photo photograph photography picture image shot film movie print portrait style tones tone "
    "filter aesthetic still of".split()
)

#: Words after a soft or hard look that make it the picture's ("chiaroscuro oil painting of",
#: "high-key portrait", "film noir still"; not "a film noir poster on the wall").
_LIGHT_LOOK_NEXT = _LOOK_WORDS | frozenset(
    "painting drawing sketch lighting light lit shot scene frame art oil studio".split()
)


def _opens_with_viewer(clause: str, section: Literal["viewer", "behind"] = "viewer") -> bool:
    """Whether a clause opens with the viewer's own gaze (``subjects.yaml``'s ``viewer``:
    "looking down into an ancient baori"), not a subject's ("a girl looking down into a well");
    ``behind``: with the viewer behind the subject ("From behind, an old imam ...")."""
    return any(clause.startswith(phrase) for phrase in curated_subjects().get(section, []))


def _stated_look(lowered: str) -> set[str]:
    """What the user chose of the picture's look, said at the head of a clause: ``framed`` (a
    camera angle or shot: "isometric", "aerial view", "close up") and ``monochrome`` ("black
    and white photo", ", sepia,"; not "a black and white cat")."""
    found = set()
    for clause in (c.strip() for c in re.split(r"[,;.]", lowered)):
        if _phrases_pattern("framing").search(clause) or _opens_with_viewer(clause):
            found.add("framed")
        if _opens_with_viewer(clause, "behind"):
            found |= {"framed", "face_hidden"}
        for scale in ("aerial", "close"):
            if _phrases_pattern(scale).search(clause):
                found |= {"framed", f"{scale}_view"}
        if _phrases_pattern("downward").search(clause):
            found.add("downward_view")
        if _phrases_pattern("silhouette").search(clause):
            found.add("silhouette_view")
        if _names_the_look(clause, "monochrome", _LOOK_WORDS) or (
            _EARLY_PHOTO.search(clause) and not _COLOURED.search(clause)
        ):
            found.add("monochrome")
        if INSTANT_PHOTO.search(clause):
            found.add("instant_photo")  # (a polaroid's white border is its own)
        for look in ("soft_look", "hard_look"):
            if _names_the_look(clause, look, _LIGHT_LOOK_NEXT):
                found.add(look)  # "Chiaroscuro oil painting of", ", film noir", "high-key portrait"
        medium_next = _DRAWN_NEXT | _word_list("media")
        if _names_the_look(clause, "photographed", medium_next):
            found.add("photographed")
        if _names_the_look(clause, "drawn", medium_next):
            found.add("drawn")
            if _phrases_pattern("drawn_monochrome").search(clause) and not _COLOURED.search(clause):
                found.add("monochrome")  # "charcoal sketch of", "pencil drawing of"
    return found


#: A photograph of a time before colour film was common ("a bootlegger hiding crates in a
#: winery at midnight, lantern light, 1920s photo" got a neon orange and purple palette, set 105,
#: both readers): one tone, unless said coloured ("a hand-coloured 1890s photograph").
_EARLY_PHOTO = re.compile(
    r"\b(?:(?:18[0-9]0s|19[0-3]0s)(?:\s+[a-z][\w-]*){0,2}|(?:victorian|edwardian)"
    r"(?:\s+press|\s+family|\s+studio)?)\s+"
    r"(?:photos?|photographs?|photography|snapshots?)\b(?!\s+booths?)"
)


#: A medium said to be in colour ("hand-coloured engraving", "colour etching", "coloured pencil
#: drawing"): no monochrome.
_COLOURED = re.compile(
    r"\b(?:colou?r(?:ed)?|hand-colou?red|tinted|color|technicolou?r|autochrome|kodachrome)\b"
)


#: Words after a painted or drawn medium that make it the picture's own ("oil painting of",
#: "charcoal sketch", "pixel art style"), not a thing in it ("a man painting a fence").
_DRAWN_NEXT = frozenset({"of", "art", "style"})


def _coloured_haze(spaced: str) -> str:
    """``spaced`` with a haze of a colour read as a glow: "lavender haze" over a sunlit garrigue,
    "golden haze" at sunset are light, not fog (set 108: a grasshopper in "sunlit Provencal
    garrigue, lavender haze" got "a sulphurous yellow fog", both readers)."""
    if "haz" not in spaced:
        return spaced
    return _hue_haze().sub(r" \1 glow ", spaced)


@lru_cache(maxsize=1)
def _hue_haze() -> re.Pattern[str]:
    # a light's hues only: a brown or yellow haze is smog or dust; "a pink haze of smoke" is smoke
    hues = "|".join(sorted(map(re.escape, _word_list("light_hues")), key=len, reverse=True))
    return re.compile(rf" ({hues}) (?:haze|hazy) (?!of )")


#: An instant photograph the prompt names: the one kind of photo with a thick white border.
INSTANT_PHOTO = re.compile(r"\b(?:polaroids?|instax|instant[- ]?(?:photos?|film|camera|print))\b")


#: A date before electric light: a decade or a year before 1900 ("the 1880s", "in 1783", "...,
#: 1888", "September 1666", "winter 1848", "a 1665 plague searcher"; not "the 1500 metres" or
#: "a 1200 cc engine"), a century
#: before the 20th ("18th-century", "19th century").
_BEFORE_1900 = re.compile(
    r"\b(?:1[0-8]\d0s|(?:in|of)\s+1[0-8]\d\d(?!\s*[a-z])|(?:1\d|[1-9])(?:st|nd|rd|th)[- ]"
    r"centur(?:y|ies))\b"
    r"|(?:,|\b(?:january|february|march|april|may|june|july|august|september|october|november"
    r"|december|spring|summer|autumn|fall|winter))\s*1[0-8]\d\d\b(?!\s*[a-z0-9])"
    r"|\b(?:a|an|the)\s+1[0-8]\d\d\s+(?!(?:m|km|cm|mm|kg|g|lb|lbs|ft|cc|hp|metres?|meters?|miles?"
    r"|feet|yards?|calories|horsepower|overture|pounds?|dollars?|acres?|people|pieces?|words?)\b)"
    r"(?=[a-z])"
)


def set_before_electric_light(lowered: str) -> bool:
    """Whether a scene is set before electric light (fact ``period``): it names a date before
    1900, or a word of such a time (``period_words``) before a person or what the picture is
    made as ("a Victorian orphan", "medieval manuscript illumination"; not "a Victorian palm
    house", which stands today)."""
    if _BEFORE_1900.search(lowered):
        return True
    periods, media = _word_list("period_words"), _word_list("media")
    for clause in re.split(r"[,;.]", lowered):  # ("a Victorian house, children playing")
        words = _WORD.findall(clause)
        if any(
            word in periods
            and any(w in media or kind_of(w) in ("person", "group") for w in words[i + 1 : i + 3])
            for i, word in enumerate(words)
        ):
            return True
    return False


@lru_cache(maxsize=2048)
def palette_words(lowered: str) -> frozenset[str]:
    """The words of the clauses of ``lowered`` that name the picture's colours (fact
    ``palette``): the user chose them, and they name no thing in the picture."""
    return frozenset(
        word
        for clause in re.split(r"[,;.]", lowered)
        if _names_a_palette(clause_words := _WORD.findall(clause))
        for word in clause_words
    )


def _names_a_palette(words: list[str]) -> bool:
    """Whether a clause's words name the picture's colours: a few words with no article or
    preposition, ending in one of ``palette_nouns`` or a hue made plural ("muted greys", "warm
    palette", "soft pinks and blues"; not "a painter's palette", "singing the blues"), or such
    words after "in" or "with" (and an article) that hold a hue or a tone ("in a pale lilac and
    grey palette", set 111, both readers: it got "yellowed paper and faded ink tones"; not "in a
    painter's palette")."""
    if len(words) > 2 and words[0] in ("in", "with"):
        rest = words[2:] if words[1] in ("a", "an") else words[1:]
        tinted = set(rest[:-1]) & (_word_list("tones") | _word_list("hues"))
        return bool(tinted) and _names_a_palette(rest)
    if not words or len(words) > 5 or set(words) & (_FUNCTION_WORDS - {"and"}):
        return False
    last = words[-1]
    if last in _word_list("palette_nouns"):
        return True
    # a hue made plural names colours beside a word of tone or another hue ("soft pinks and
    # blues"); alone it may be things ("fresh oranges", "manicured greens", "smoky blues")
    hues = _word_list("hues")
    return (
        last.endswith("s")
        and last[:-1] in hues
        and bool(set(words[:-1]) & (_word_list("tones") | hues))
    )


def _names_the_look(
    clause: str,
    section: Literal["monochrome", "drawn", "photographed", "soft_look", "hard_look"],
    next_words: frozenset[str],
) -> bool:
    """Whether ``clause`` opens with a phrase of ``section`` that ends it or comes before one of
    ``next_words``: the picture's own look, not the colour or the medium of a thing in it."""
    match = _phrases_pattern(section).search(clause)
    if match is None:
        return False
    rest = _WORD.findall(clause[match.end() :])
    if rest[:1] == ["of"] and figure_of_speech(match.group(1), rest[1:2]):
        return False  # "a tapestry of stars above a lone camper"
    # its head may follow a word or two of the process: "black-and-white glass-plate photo";
    # not a thing's name: "a black and white dog portrait", "black and white cow print rug"
    head = next((i for i, w in enumerate(rest[:3]) if w in next_words), None)
    return not rest or (
        head is not None
        and not set(rest[:head]) & _FUNCTION_WORDS
        and all(kind_of(w) is None for w in rest[:head])
    )


def figure_of_speech(medium: str, after_of: list[str]) -> bool:
    """Whether a medium before "of" is a figure of speech (``subjects.yaml``'s ``figurative``):
    no article follows ("a tapestry of stars", "a mosaic of rice paddies"; not "mosaic of a
    fisherman")."""
    return medium in curated_subjects().get("figurative", []) and not (
        after_of and after_of[0] in _ARTICLES_AND_COUNTS
    )


_ARTICLES_AND_COUNTS = frozenset("a an the one two three his her their my our its".split())


#: Facets of a thing set in the picture: out of scale beside the subject in an aerial view or a
#: close-up, unless it is the subject's own ("{the} wearing a tiny party hat").
_SCALED_FACETS = frozenset({"object", "action"})


#: Things with no size of their own: out of scale nowhere ("a shadow with claws thrown across
#: {the}" on a LEGO castle in macro; readers called it fine).
_NO_BODY = frozenset("shadow shadows silhouette silhouettes reflection reflections glow".split())


#: Words after a verb that are no noun or adjective it modifies ("leaping after", "backing away").
_PARTICLES = frozenset(
    "after before toward towards up down out away back forward forwards between alone while "
    "then like until".split()
)


#: Body detail no view from far above shows, and how the refusal says so.
_FAR_DETAIL = {
    "face": "no face can be read from there",
    "skin": "no skin can be seen from there",
}


#: A modelled medium ("sticky bright plasticine textures", "fuzzy felt and pom-pom textures"),
#: which neither a drawing nor a photograph the prompt names is; felt slippers and a pom-pom hat
#: are things.
_MODELLED = (
    r"plasticine|claymation|felt and pom-?poms?|pom-?pom textures?|"
    r"felt\s+(?:textures?|puppets?|cut-?outs?)"
)


#: A photograph's own process ("grainy film texture", "harsh flash snapshot", "wide lens
#: distortion", an instant photo's border, a selfie or a security camera's view) or a modelled
#: medium's, which a painted or drawn picture (``drawn``) does not have; a camera's distance
#: or angle ("long lens from far off", "low angle") is any picture's.
_PHOTO_PROCESS = re.compile(
    r"\b(?:film|grainy|flash|snapshot|polaroid|35mm|bokeh|lens flare|lens distortion|"
    r"depth of field|long exposure|motion blur|over-?exposed|under-?exposed|fingerprints|"
    r"photo-?booth|instant[- ]?photo|selfie|(?:security|doorbell)[- ]?camera|"
    r"(?:fly-specked|smeared|scratched|greasy|dirty)\s+lens|"
    # a photograph's look named as such ("faded edges like an old photograph" on a stained glass
    # window of a coalman, this session's final outputs; not "clutching an old photograph")
    r"like an? (?:old )?photo(?:graph)?|group photo|"
    # a modelled medium is no drawing either ("sticky bright plasticine textures" and an
    # instant-photo border on a pencil sketch of a pierrot, set 97, both readers; "fuzzy felt and
    # pom-pom textures" on pixel art of roller-skating kazooists, set 100)
    rf"{_MODELLED})\b"
)


#: Another kind of picture, or a modelled medium ("a photo-booth strip of four frames",
#: "sticky bright plasticine textures"), which a photograph the prompt names is not: "hubby passed
#: out on the settee at 2am, ..., phone flash photo" got a photo-booth strip, "greenkeeper ...,
#: 1970s Kodachrome snapshot" plasticine (set 101, both readers).
_OTHER_PICTURE = re.compile(rf"\b(?:photo-?booth|{_MODELLED})\b")


#: A drawn or painted medium's own marks ("crayon-scribble textures on paper", "visible
#: brushstrokes"), which a photograph (``photographed``) does not have.
_DRAWN_PROCESS = re.compile(
    r"\b(?:crayon|pencil|charcoal|pastel|watercolou?r|gouache|brushstrokes?|ink wash|"
    r"scribbled?|scribble|sketchy|hatching|on paper|paper texture|canvas texture|"
    # a comic's panels and outlines ("comic-strip panel framing with bold outlines" on a
    # polaroid, set 102, both readers)
    r"comic-strip|comic strip|bold outlines|halftone)\b"
)


def facts_conflict(
    facts: frozenset[str] | set[str], own: frozenset[str] | set[str], phrase: str = "it"
) -> str | None:
    """Why facts ``own`` (a concept's) contradict ``facts`` (a scene's), or ``None``."""
    for fact in sorted(own):
        if fact in BODY_FACTS and fact not in facts:
            return f"'{_trigger(phrase, fact)}' needs {fact}, no subject has it"
        if fact in facts:  # the scene states it itself
            continue
        clash = _OPPOSITE.get(fact, set()) & set(facts)
        if clash:
            return f"'{_trigger(phrase, fact)}' says {fact}, the scene says {sorted(clash)[0]}"
    for a, b, unless in OPPOSITES_UNLESS:
        for mine, theirs in ((a, b), (b, a)):
            if (
                mine in own
                and theirs in facts
                and mine not in facts
                and unless not in own
                and unless not in facts
            ):
                return (
                    f"'{_trigger(phrase, mine)}' says {mine}, the scene says {theirs} "
                    f"and is not {unless}"
                )
    if "asleep" in own and "busy" in facts and "asleep" not in facts:
        return f"'{_trigger(phrase, 'asleep')}' says asleep, the subject is doing something"
    their_sites = _sites(facts)
    for site in sorted(_sites(own) - their_sites):
        # "a hospital corridor": a museum hall fits the corridor but not the hospital
        elsewhere = sorted(t for t in their_sites if not sites_compatible(site, t))
        if elsewhere:
            return (
                f"'{_trigger(phrase, 'site:' + site)}' sets it in a {site}, the scene is "
                f"in a {elsewhere[0]}"
            )
    return None


def facts_opposed(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> bool:
    """Whether two concepts' facts contradict each other (body needs aside)."""
    return facts_conflict(set(a) - BODY_FACTS, set(b) - BODY_FACTS) is not None


def _trigger(phrase: str, fact: str) -> str:
    lowered = " " + " ".join(_WORD.findall(phrase.lower())) + " "
    keys = SITES.get(fact[5:], ()) if fact.startswith("site:") else FACT_WORDS.get(fact, ())
    for key in keys:
        if f" {key} " in lowered:
            return key
    return phrase.strip()[:40]


#: English irregular past participles: after a noun they start the verb phrase ("a trawler caught
#: beside a waterspout"), as a regular -ed form does.
_PARTICIPLES = frozenset(
    "arisen awoken beaten become begun bent bitten bled blown borne broken brought built burnt "
    "bought caught chosen clung come crept dealt dug done drawn driven drunk dwelt eaten fallen "
    "fought found fled flung flown forgotten frozen given gone grown heard hidden held kept "
    "knelt known laid leapt left lent lit lost made meant met paid ridden risen said seen sought "
    "sold sent sewn shaken shone shod shown shrunk shut sung sunk sat slain slept slid slung "
    "smelt sown spoken sped spent spilt spun spoilt sprung stood stolen stuck stung stunk "
    "strewn struck strung sworn swept swollen swum swung taken taught torn told thought thrown "
    "trodden understood woken worn woven wept written".split()
)


def _adverb(word: str) -> bool:
    """An -ly word that is no noun and no verb: "slowly", not "a rally car" or "a supply
    capsule"."""
    return word.endswith("ly") and kind_of(word) is None and word not in verbs()


#: words that title case may leave lowercase
_FUNCTION_WORDS = _DETERMINERS | _LOCATIVE | _JOINERS | frozenset("or of to for from as".split())


@lru_cache(maxsize=8)
def _word_list(
    section: Literal[
        "calendar",
        "regions",
        "media",
        "hues",
        "palette_nouns",
        "period_words",
        "tones",
        "light_hues",
    ],
) -> frozenset[str]:
    """A space-separated word list of ``subjects.yaml``: ``calendar`` (months and days),
    ``regions`` (parts of a place: "rim", "floor"), ``media`` (what a picture is made as),
    ``hues`` (words that give a phrase a colour), ``palette_nouns`` (the last word of a clause
    naming the picture's colours), ``period_words`` (a time before electric light), ``tones``
    (words of a colour's tone: "muted", "soft"), ``light_hues`` (a light's colours)."""
    return frozenset(curated_subjects().get(section, "").split())
