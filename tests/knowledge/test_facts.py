"""The facts vocabulary is data (knowledge/data/facts.yaml), checked when it is loaded: a file
that does not hold together is refused with its section and entry named."""

from __future__ import annotations

import pytest
import yaml

from emotion_director.knowledge import scene
from emotion_director.knowledge.facts import FactsFile, load_facts_file


def _shipped() -> dict:
    return load_facts_file().model_dump(mode="json")


def test_the_parser_reads_its_facts_from_the_shipped_file():
    facts = load_facts_file()
    assert scene.OPPOSITES == facts.opposites and ("day", "night") in scene.OPPOSITES
    assert scene.SITES["cave"] == facts.sites["cave"]
    # the sun words state both sunny and clear, and lead both lists
    sun = facts.sun_words
    assert scene.FACT_WORDS["sunny"][: len(sun)] == sun
    assert scene.FACT_WORDS["sunny"][len(sun) :] == facts.facts["sunny"]
    assert scene.FACT_WORDS["clear"][: len(sun)] == sun
    assert scene.FACT_WORDS["clear"][len(sun) :] == facts.facts["clear"]
    # and what they say reaches the parser
    assert "subterranean" in scene.parse_scene("a busker in a metro station").facts


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["site_within"].update(kitchen=["home", "castle"]), "castle"),
        (lambda d: d.update(private_sites=["home", "spaceship"]), "spaceship"),
        (lambda d: d["opposites"].append(["day", "day"]), "against itself"),
        (lambda d: d["facts"]["fog"].append("fog"), "twice"),
        (lambda d: d["facts"].pop("clear"), "clear"),
        (lambda d: d["facts"]["fog"].append("fog "), "facts.fog"),
        (lambda d: d["facts"]["fog"].append(7), "facts.fog"),
        (lambda d: d["opposites"].append(["day", "night", "dusk"]), "opposites"),
        (lambda d: d.update(sites="a cave"), "sites"),
        (lambda d: d.update(colours=["red"]), "colours"),
        (lambda d: d.pop("kind_facts"), "kind_facts"),
        (lambda d: d["facts"].pop("overcast"), "overcast"),  # read by name: a KeyError before
        (lambda d: d["kind_facts"].pop("fish"), "fish"),
        (lambda d: d["kind_facts"].update(dragon=["animal"]), "dragon"),
        # a misspelt fact in a rule would turn the rule off without a word
        (lambda d: d["opposites"].append(["drizle", "downpour"]), "'drizle' is no fact"),
        (lambda d: d["opposites_unless"].append(["dark", "day", "indor"]), "'indor' is no fact"),
        (lambda d: d["facts"]["fog"].append("thick  fog"), "facts.fog"),
        # a gap stands between two words: never first, last or twice in a row
        (lambda d: d["facts"]["masked"].append("in *"), "facts.masked"),
        (lambda d: d["facts"]["masked"].append("* masks"), "facts.masked"),
        (lambda d: d["facts"]["masked"].append("in * * masks"), "facts.masked"),
        # only a fact's keys may hold a gap (nothing else reads one)
        (lambda d: d["sun_words"].append("under * sun"), "sun_words"),
        (lambda d: d["sites"]["cave"].append("in * cave"), "sites.cave"),
        (lambda d: d["gap_breaks"].append("*"), "gap_breaks"),
        (lambda d: d["figures_of_speech"].update({"Sea Of": "mass of"}), "figures_of_speech"),
        (lambda d: d["figures_of_speech"].update({"sea of": " "}), "figures_of_speech"),
        (lambda d: d["figures_of_speech"].update({"frozen mid-": "caught mid"}), "both end"),
        # every hour read once, as a word that states a fact
        (lambda d: d["clock_hours"].pop(), "each hour 0-23 exactly once"),
        (lambda d: d["clock_hours"].append([3, 3, "night"]), "each hour 0-23 exactly once"),
        (lambda d: d["clock_hours"].append([22, 25, "night"]), "clock_hours"),
        (lambda d: d["clock_hours"][0].__setitem__(2, "nite"), "'nite' states no fact"),
    ],
)
def test_a_broken_facts_file_is_refused_naming_what_is_wrong(change, named):
    data = _shipped()
    change(data)
    with pytest.raises(ValueError) as caught:
        FactsFile.model_validate(yaml.safe_load(yaml.safe_dump(data)))
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("kind_facts: {}\nopposites: [[day]]\n", r"facts\.yaml: .*opposites\.0"),
        ("facts:\n  fog: [fog\n  rain: ]\n", r"facts\.yaml is not valid YAML"),
    ],
)
def test_the_loader_names_the_file_and_what_is_wrong(monkeypatch, text, named):
    from emotion_director.knowledge import facts as module

    class Shipped:  # the package's data folder, holding ``text`` as facts.yaml
        def joinpath(self, *parts):
            return self

        def read_text(self, encoding):
            return text

    monkeypatch.setattr(module.resources, "files", lambda package: Shipped())
    module.load_facts_file.cache_clear()
    try:
        with pytest.raises(ValueError, match=named):
            module.load_facts_file()
    finally:
        module.load_facts_file.cache_clear()


def test_the_shipped_file_names_no_key_twice():
    # PyYAML keeps the last of two equal keys without a word ("cave:" twice under sites)
    from importlib import resources

    def keys_twice(node, where="file"):
        found = []
        if isinstance(node, yaml.MappingNode):
            names = [key.value for key, _ in node.value]
            found += [f"{where}: {n}" for n in sorted({n for n in names if names.count(n) > 1})]
            for key, value in node.value:
                found += keys_twice(value, f"{where}.{key.value}")
        return found

    text = resources.files("emotion_director.knowledge").joinpath("data", "facts.yaml")
    assert keys_twice(yaml.compose(text.read_text("utf-8"))) == []
    broken = "facts:\n  fog: [fog]\n  fog: [mist]\n"
    assert keys_twice(yaml.compose(broken)) == ["file.facts: fog"]


def test_a_figure_of_speech_asserts_only_its_neutral_reading():
    """Set 86: "a microlight skimming low over an esker in Karelia under the midnight sun" (the
    sun up at midnight, in summer) was read as night and got "fireworks bursting overhead"."""
    from emotion_director.knowledge import load_concept_graph

    polar = scene.parse_scene("a microlight skimming low over an esker under the midnight sun")
    assert "night" not in polar.facts and "hot" not in polar.facts
    assert "night" in scene.parse_scene("a microlight skimming low over an esker at midnight").facts
    assert load_concept_graph().get("fireworks bursting overhead").conflict(polar)
    assert "winter" not in scene.phrase_facts("the smoker mid-bounce, frozen mid-air")
