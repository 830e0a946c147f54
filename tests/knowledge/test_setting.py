"""Scene-anchored concepts: a concept brings in only the setting its scene states."""

from __future__ import annotations

import re

import pytest

from emotion_director.emotions import Emotion
from emotion_director.knowledge import load_concept_graph
from emotion_director.knowledge import setting as setting_mod
from emotion_director.knowledge.concept_graph import KIND_NEEDS
from emotion_director.knowledge.scene import kind_of, parse_scene
from emotion_director.knowledge.setting import (
    close,
    concept_settings,
    load_setting_file,
    ruled_out,
    stated_tags,
    unanchored,
)


def test_every_concept_of_the_graph_has_an_annotated_setting():
    table = concept_settings()
    graph = load_concept_graph()
    texts = {c.text for e in Emotion for c in graph.concepts(e)}
    assert texts - set(table) == set()  # a new concept needs its line in concept_settings.tsv
    assert set(table) - texts == set()  # and a removed one loses it
    # not a table that says "fits anywhere" to everything: most concepts presuppose something
    anchored = sum(1 for tags in table.values() if tags)
    assert 0.5 < anchored / len(table) < 0.9
    assert all(tags <= load_setting_file().vocabulary for tags in table.values())


def test_loaded_concepts_carry_their_setting():
    concept = load_concept_graph().get("a stack of presents with ribbons")
    assert concept is not None and "party" in concept.setting


def test_stated_tags_come_from_facts_and_what_they_imply():
    kitchen = stated_tags(frozenset({"night", "site:kitchen"}))
    assert kitchen == {"night", "home", "indoor", "table", "built"}
    # (out in the open: outdoors, and nothing built)
    assert stated_tags(frozenset({"site:park"})) == {"garden", "field", "outdoor", "open_air"}
    assert stated_tags(frozenset()) == frozenset()
    # the reader's tags count as stated too
    assert stated_tags(frozenset(), frozenset({"forest"})) == {"forest", "outdoor", "open_air"}
    assert "open_air" not in stated_tags(frozenset({"site:street"}))  # a street is built


def test_the_scene_s_own_words_win_over_a_reading_of_their_meaning():
    # set 68: MiniLM read "walls of snow" as snowfall, which took the sun off "a bright June
    # morning", and "dim murky light with a green cast" joined the scene
    facts = parse_scene("A fuel tanker crawls between walls of snow on a bright June morning").facts
    stated = stated_tags(facts, frozenset({"snow", "cold"}))
    assert "sunlit" in stated and "snow" not in stated and "cold" in stated
    # a reading the words do not contradict still counts
    pass_facts = parse_scene("a tanker on a mountain pass").facts
    assert "snow" in stated_tags(pass_facts, frozenset({"snow"}))
    # ... and so does one that takes nothing stated away: snow swirling under a full moon
    hut = parse_scene("a shepherd's hut under a full moon, snow swirling around it").facts
    assert "snow" in stated_tags(hut, frozenset({"snow", "night", "cold"}))


def test_a_stated_dimension_wins_over_an_implied_one():
    # a subway car: read as road-like (implies outdoor) but stated underground
    assert "outdoor" not in close({"underground", "road", "city"})
    assert "outdoor" in close({"road"})


def test_unanchored_names_what_the_scene_lacks():
    assert unanchored(frozenset({"night", "water"}), frozenset({"night"})) == (
        "it brings in water, which the scene does not state"
    )
    assert unanchored(frozenset(), frozenset()) is None
    assert unanchored(frozenset({"night"}), frozenset({"night", "cold"})) is None


def test_ruled_out_names_only_what_the_scene_states_against_a_free_need():
    # awake is free: refused only where the scene states asleep, never for being unstated
    assert ruled_out(frozenset({"awake", "night"}), frozenset({"asleep"})) == (
        "it shows awake, the scene states asleep"
    )
    assert ruled_out(frozenset({"awake", "night"}), frozenset()) is None
    assert ruled_out(frozenset({"awake"}), frozenset({"awake", "asleep"})) is None


@pytest.mark.parametrize(
    "scene, emotion",
    [
        ("a welder repairing a ship hull in a dry dock at night", "awe"),
        ("a laundromat at 3 a.m.", "sadness"),
        ("a snowplough clearing a mountain pass before dawn", "excitement"),
        ("a cat asleep on a sofa", "contentment"),
    ],
)
def test_candidates_never_bring_in_a_setting_the_scene_does_not_state(scene, emotion):
    model = parse_scene(scene)
    candidates = load_concept_graph().candidates(emotion, model)
    assert candidates  # enough is left to draw from
    free = set(load_setting_file().free)  # free tags: refused only by what rules them out
    assert all(c.setting - free <= model.stated for c in candidates)
    # and the same through the facts-only path the refiner uses
    assert all(c.fits(model.facts) for c in candidates)


def test_a_scene_that_states_its_setting_gets_concepts_set_there():
    # a kitchen at night: home, indoor and night concepts are on offer; outdoor ones are not
    model = parse_scene("a cat in a kitchen at night")
    texts = {c.text: c for c in load_concept_graph().candidates("contentment", model)}
    assert any({"night", "indoor"} & c.setting for c in texts.values())
    assert not any("outdoor" in c.setting for c in texts.values())


def test_the_reader_s_tags_widen_what_a_scene_states():
    graph = load_concept_graph()
    plain = parse_scene("a laundromat at 3 a.m.")
    read = plain.model_copy(update={"read_setting": frozenset({"night", "indoor"})})
    before = {c.text for c in graph.candidates("sadness", plain)}
    after = {c.text for c in graph.candidates("sadness", read)}
    assert before < after
    free = setting_mod.load_setting_file().free.keys()  # (needed by no scene: only refused)
    assert all(graph.get(t).setting - free <= read.stated for t in after)


@pytest.mark.parametrize(
    "line, message",
    [
        ("light\tsome light\tnight,moonbeam\n", "unknown tag(s) ['moonbeam']"),
        ("light\tsome light\n", "expected FACET, TEXT, TAGS"),
    ],
)
def test_a_bad_annotation_line_is_named(monkeypatch, line, message):
    real = setting_mod._data

    def data(name):
        return line if name == "concept_settings.tsv" else real(name)

    monkeypatch.setattr(setting_mod, "_data", data)
    setting_mod.concept_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="line 1: " + re.escape(message)):
            concept_settings()
    finally:
        setting_mod.concept_settings.cache_clear()


def test_the_vocabulary_file_refuses_an_unknown_tag():
    raw = load_setting_file().model_dump()
    raw["implies"]["forest"] = ["outdoors"]
    with pytest.raises(ValueError, match="outdoors"):
        setting_mod.SettingFile.model_validate(raw)


@pytest.mark.parametrize(
    "scene, head",
    [
        # ("kitesurfer" is now a person: a closed compound of two known words, test_scene.py)
        ("a parkourist leaping over breakers at a windy estuary", "parkourist"),
        ("a sleeping quokka curled by a woodstove", "quokka"),
        ("a ventriloquist's dummy ordering at a drive-through window", "dummy"),
        ("the photobomber repairing a ship hull", "photobomber"),
        ("a dog in a park", None),  # a noun the tables know: the parser's own subject
        ("dark and stormy", None),  # mood and weather words are no subject
        ("a sad clown", None),
        # seen (set 11): "the yellowed at the end of a long empty corridor"; participles before
        # a noun modify it, whether it is known ("wedding gown") or cannot be told ("mooring")
        ("a yellowed wedding gown hanging alone in a dusty attic", None),
        ("a rusted mooring post at dawn", None),
        ("a grinning zorblat waving at a crowd", "zorblat"),
        # the last word of the phrase is its head (seen on set 11: "the fuel with speed lines"
        # for a top fuel dragster); known nouns and prefixed participles before it modify it
        ("a top fuel dragster blasting off the start line", "dragster"),
        ("a windblown zorblat on a hill", "zorblat"),
        ("an abandoned greenhouse overgrown with vines", None),
        ("a ship without a sail", None),
    ],
)
def test_an_unknown_first_noun_is_the_subject_of_no_known_kind(scene, head):
    model = parse_scene(scene)
    if head is None:
        assert all(e.kind != "thing" for e in model.entities)
    else:
        assert model.main.noun == head and model.main.kind == "thing"


def test_no_concept_written_for_a_kind_binds_to_a_subject_of_unknown_kind():
    # before: "the estuary bursting toward the lens", the hives "cut into slices on a plate"
    graph = load_concept_graph()
    for text in (
        "a kitesurfer repairing a ship hull in a dry dock at night",
        "a kitesurfer and his dog",
    ):
        model = parse_scene(text)
        bound = [c for e in Emotion for c in graph.candidates(e, model) if c.bound]
        assert any(not c.needs & KIND_NEEDS for c in bound)  # "the kitesurfer small in a frame"
        for concept in bound:
            if concept.needs & KIND_NEEDS:  # bound to the hull or the dog, never to the surfer
                assert model.owner_for(concept.needs).kind != "thing", concept.text
    dog = [c for c in graph.candidates("amusement", parse_scene("a kitesurfer and his dog"))]
    assert any(c.bound and "animal" in c.needs for c in dog)  # the dog still gets its own


@pytest.mark.parametrize(
    "prompt",
    [
        "cinematic shot of a lighthouse",
        "an empty parking lot at night",
        "dramatic lighting, a dog in a park",
        "highly detailed, a cat",
        "vintage photo of a yurt",
    ],
)
def test_a_style_word_or_adjective_in_front_is_no_subject(prompt):
    assert all(e.kind != "thing" for e in parse_scene(prompt).entities)


def test_a_fire_concept_still_names_the_people_around_it():
    graph = load_concept_graph()
    bonfire = graph.get("bonfire light flickering over {the}")
    assert bonfire is not None and bonfire.fits(parse_scene("a crowd around a bonfire at night"))


def test_a_pose_at_rest_is_refused_for_a_busy_subject_and_kept_for_a_sleeping_one():
    graph = load_concept_graph()
    resting = [c for e in Emotion for c in graph.concepts(e) if "rest" in c.setting]
    assert len(resting) > 20
    busy = parse_scene("a baker kneading dough")
    asleep = parse_scene("a baker asleep on flour sacks")
    assert "busy" in busy.stated and "rest" in asleep.stated
    assert all(c.conflict(busy) for c in resting)
    assert any(c.fits(asleep) for c in resting)
    assert unanchored(frozenset({"rest"}), frozenset({"busy"})) == (
        "it shows rest, the scene states busy"
    )


@pytest.mark.parametrize(
    "noun, kind",
    [
        ("welder", "person"),  # no hand-written table lists these: WordNet's hypernyms do
        ("cheesemonger", "person"),
        ("watchman", "person"),  # the nearest-neighbour lexicon had guessed "object"
        ("jeweler", "person"),
        ("bailiff", "person"),  # the lexicon's guess was "building": the bailiff got windows
        ("country", "landscape"),  # a nation and a rural area to WordNet: the lexicon's stays
        ("racetrack", "object"),  # guessed "vehicle": camels "thundering" bound it to roar past
        ("greyhound", "mammal"),
        ("maggots", "insect"),
        ("snowplough", "vehicle"),
        ("greenhouse", "building"),
        ("attic", "room"),  # WordNet knows it only as a structure: the lexicon's room stays
        ("whale", "fish"),  # "a very large person" in WordNet too: the curated body plan stays
        ("quokka", None),  # in no table and not in WordNet 3.0
    ],
)
def test_nouns_no_table_lists_get_their_kind_from_wordnet_hypernyms(noun, kind):
    assert kind_of(noun) == kind


def test_a_subject_of_a_wordnet_kind_gets_the_concepts_of_that_kind():
    model = parse_scene("a cheesemonger napping in a cool stone cellar")
    assert model.main.noun == "cheesemonger" and model.main.kind == "person"
    bound = [c for c in load_concept_graph().candidates("contentment", model) if c.bound]
    assert any("face" in c.needs or "person" in c.needs for c in bound)


def _concept(text):
    return load_concept_graph().get(text)


def _assert_free_tag(text, tag, scene, fits):
    """The concept carries the free ``tag``, and joins ``scene`` exactly when ``fits``."""
    concept = _concept(text)
    assert tag in concept.setting
    assert (concept.conflict(parse_scene(scene)) is None) is fits


@pytest.mark.parametrize(
    "scene, fits",
    [
        ("dock workers striking outside a shipyard in freezing sleet", False),
        ("a moose on a foggy autumn road", False),
        ("a toll booth in a blizzard", False),
        ("a lighthouse keeper on a rainy afternoon", False),
        ("a farmer in a foggy field at midday", False),  # the day is stated: fog alone rules out
        ("a farmer in a field at midday", True),  # no weather stated: sunshine may join
    ],
)
def test_sunshine_is_refused_where_the_scene_states_fog_rain_or_snowfall(scene, fits):
    _assert_free_tag("hard overhead light carving deep shadows", "clear", scene, fits)


@pytest.mark.parametrize(
    "scene, fits",
    [
        ("a lighthouse keeper climbing the spiral stairs during a winter gale at night", False),
        ("an armadillo in a tiny knitted scarf on a snowy farm porch", False),
        ("a fox on a frosty morning", False),
        ("a beekeeper in a lavender field", True),  # no season stated: the wasp may join
        ("a tortoise in a garden at noon", True),
    ],
)
def test_warm_season_creatures_are_refused_where_the_scene_says_winter(scene, fits):
    _assert_free_tag("a wasp crawling out of a hole", "warm", scene, fits)


@pytest.mark.parametrize(
    "scene, fits",
    [
        ("a street drummer on upturned buckets in a rainy city square", False),
        ("a steam locomotive bursting out of a mountain tunnel in snowfall", False),
        ("a camel caravan in a sandstorm", True),  # wind and sand: no rain
        ("a motorbike on a gravel road at noon", True),  # no weather stated: dust may join
    ],
)
def test_dry_ground_is_refused_where_the_scene_says_rain_or_snowfall(scene, fits):
    # seen: "kicked-up gravel and dust" in a rainy city square and in snowfall
    _assert_free_tag("kicked-up gravel and dust", "dry", scene, fits)


def test_sun_warmed_things_need_a_sunny_day():
    # seen: "the spines with sun-warmed laundry folded on it" in a library basement on a rainy
    # afternoon
    concept = _concept("{the} with sun-warmed laundry folded on it")
    assert {"clear", "day"} <= concept.setting
    scene = parse_scene("a bookbinder stitching spines in a library basement on a rainy afternoon")
    assert concept.conflict(scene) is not None


def test_falling_snow_needs_a_scene_where_snow_falls():
    snowing = _concept("snow falling in absolute stillness")
    assert "snow" in stated_tags(parse_scene("a toll booth in a blizzard").facts)
    assert snowing.conflict(parse_scene("an ice fisherman at dusk in a snowfall")) is None
    # frozen is not snowing: the Milky Way over a frozen plateau is a clear night
    frozen = parse_scene("a radio telescope under the Milky Way on a frozen plateau")
    assert "snow" not in frozen.stated and snowing.conflict(frozen) is not None


@pytest.mark.parametrize(
    "scene, fits",
    [
        ("camels racing down a desert track at sunrise", False),
        # an emotion-laden verb right after its subject is still what the subject does
        ("a pelican stealing a sandwich from a tourist", False),
        ("camels thundering down a desert track", False),
        ("a cat asleep on a sofa", False),
        ("a dog in a park", True),  # the scene gives the dog nothing to do: it may play
        ("a snow leopard perched on a rocky ledge", False),  # nor one it keeps in place
    ],
)
def test_an_activity_of_its_own_is_refused_where_the_scene_gives_the_subject_one(scene, fits):
    _assert_free_tag("{poss} play bow, front paws down and rump in the air", "act", scene, fits)


def test_a_prop_from_a_place_of_its_own_joins_only_a_scene_that_names_it():
    coaster = _concept("a roller coaster cresting the top of the drop")
    assert "apart" in coaster.setting and coaster.prop == "coaster"
    # "roller" in "roller derby" is no roller coaster
    assert coaster.conflict(parse_scene("roller derby skaters colliding in a rink")) is not None
    assert coaster.conflict(parse_scene("friends riding a roller coaster on a sunny day")) is None


@pytest.mark.parametrize(
    "scene, enclosure",
    [
        # a building the subjects are in wins over the rain outside it
        ("an allotment gardener sipping tea in a greenhouse during spring rain", "indoor"),
        ("roller derby skaters colliding in a packed warehouse rink at night", "indoor"),
        ("a woman at a church in the rain", "outdoor"),  # at it, not in it
        # below the surface: a cave or a sea is a landscape, but not the open air
        ("a cathedral-sized salt cavern far underground", "underground"),
        ("a whale shark gliding over a sunken cargo ship", "underwater"),
    ],
)
def test_the_scene_states_the_enclosure_its_subjects_are_in(scene, enclosure):
    stated = parse_scene(scene).stated
    assert enclosure in stated
    assert {"indoor", "outdoor", "underground", "underwater"} & stated == {enclosure}


def test_open_sky_is_refused_underground():
    concept = _concept("{the} framed in a circle of open sky")
    assert concept.conflict(parse_scene("miners in a salt cavern far underground")) is not None
    assert concept.conflict(parse_scene("a shepherd on a hillside")) is None


def test_a_vehicle_the_scene_sets_moving_gets_no_other_motion():
    concept = _concept("{the} roaring past with wheels kicking up dust")
    assert concept.conflict(parse_scene("a monster truck soaring over crushed sedans")) is not None
    assert concept.conflict(parse_scene("a monster truck on a city street")) is None
    assert parse_scene("a steam locomotive bursting out of a tunnel").actions == ["bursting"]
    assert parse_scene("a parked car at night").actions == []


@pytest.mark.parametrize(
    "scene, noun",
    [
        ("a fishmonger's stall of rotting eels in a crowded indoor market", "eels"),
        ("rusting carousel horses on a deserted seaside pier in winter", "horses"),
        ("a bronze statue of a horse in a square", "horse"),
    ],
)
def test_a_dead_or_depicted_animal_gets_no_face_or_limbs(scene, noun):
    model = parse_scene(scene)
    entity = next(e for e in model.entities if e.noun == noun)
    assert entity.kind == "object" and not entity.facts & {"face", "legs", "ears", "fins"}
    graph = load_concept_graph()
    for emotion in ("disgust", "sadness"):
        for concept in graph.candidates(emotion, model):
            if concept.bound and concept.needs & {"face", "ears", "animate"}:
                assert model.owner_for(concept.needs).noun != noun, concept.text


@pytest.mark.parametrize(
    "scene",
    [
        "a stone mason at work",
        "a toy poodle on a sofa",
        "a golden retriever on a beach",
        "a plastic surgeon in an operating room",  # a job title, not a plastic person
        "a bronze medalist crying on the podium",
        "a photo of a cat",  # a photo shows the cat alive
        "a portrait of a woman",
    ],
)
def test_a_living_subject_named_with_a_material_word_stays_alive(scene):
    assert any(e.kind in {"person", "mammal"} for e in parse_scene(scene).entities)


@pytest.mark.parametrize(
    "scene, fits",
    [
        ("a hovercraft skimming across a frozen lake on a clear winter afternoon", False),
        ("an abandoned paddle steamer rusting in a frozen harbour", False),
        ("a seal hauled out on sea ice", False),
        ("a surfer paddling out to sea at dawn", True),
        ("a girl by the sea, ice cream melting in her hand", True),  # no sea ice: a comma between
    ],
)
def test_open_water_is_refused_where_the_scene_says_its_water_is_frozen(scene, fits):
    concept = _concept("surf crashing in white spray")
    model = parse_scene(scene)
    if fits is None:
        assert "ice" not in model.stated
    else:
        assert (concept.conflict(model) is None) is fits


def test_summer_states_heat_not_spring():
    stated = parse_scene("a wingwalker on a biplane above a summer airshow").stated
    assert "hot" in stated and "spring" not in stated
    blossom = [
        c
        for c in load_concept_graph().candidates("contentment", parse_scene("a lane in summer"))
        if "spring" in c.setting
    ]
    assert blossom == []


@pytest.mark.parametrize(
    "scene, fits",
    [
        ("a miner with a flickering headlamp in a collapsed coal seam", False),
        ("a lone hiker on a windswept ridge in fog", False),
        ("a nurse in a hospital corridor at night", True),
        ("a girl at a bus stop on a city street", True),
    ],
)
def test_a_window_needs_a_building_or_vehicle_in_the_scene(scene, fits):
    concept = _concept("frame within a frame through a broken window")
    assert (concept.conflict(parse_scene(scene)) is None) is fits


@pytest.mark.parametrize(
    "scene, subject, action",
    [
        ("a hyena gnawing a ribcage on the dusty savannah", "hyena", "gnawing"),
        ("a mahout bathing an elephant in a shallow river at dusk", "mahout", "bathing"),
    ],
)
def test_an_ing_word_after_its_subject_is_what_it_does_not_a_thing(scene, subject, action):
    model = parse_scene(scene)
    assert model.main.noun == subject and action in model.actions
    assert all(e.noun != action for e in model.entities)


@pytest.mark.parametrize(
    "scene, under",
    [
        ("a narwhal beneath the arctic pack ice", True),
        ("a diver below the surface of a lake", True),
        ("a child under an umbrella by the sea", False),
        # a fish in the water is under it, unless it breaks the surface
        ("a manta ray gliding over a coral wall in deep blue water", True),
        ("a dolphin leaping out of the waves", False),
        ("a lifeguard watching the deep water from a tower", False),
    ],
)
def test_beneath_the_water_or_ice_is_underwater(scene, under):
    assert ("underwater" in parse_scene(scene).stated) is under


@pytest.mark.parametrize(
    "scene, fits",
    [
        ("a mortician alone in a basement morgue under flickering lights", False),
        ("a penguin riding a luggage carousel at an empty airport at midnight", False),
        ("a nurse in a hospital corridor at night", True),
    ],
)
def test_other_people_are_refused_where_the_subject_is_alone(scene, fits):
    _assert_free_tag("a figure standing motionless behind {the}", "others", scene, fits)


@pytest.mark.parametrize(
    "scene, enclosure",
    [
        ("an abandoned paddle steamer rusting in a frozen harbour", "outdoor"),
        ("a rat catcher in a dripping sewer tunnel with a lantern", "underground"),
        ("a gravedigger in a cemetery at dusk", "outdoor"),
    ],
)
def test_in_an_open_site_is_not_indoors(scene, enclosure):
    stated = parse_scene(scene).stated
    assert {"indoor", "outdoor", "underground", "underwater"} & stated == {enclosure}


@pytest.mark.parametrize(
    "scene, tag, stated",
    [
        ("a busker outside a theatre in the rain", "outdoor", True),
        ("a man smoking outside a pub in the rain", "indoor", False),
        ("a knight in front of a castle at dawn", "indoor", False),
        ("a boy in red near a barn in the rain", "indoor", False),
        ("an archaeologist inside a pyramid with a torch", "indoor", True),
        ("a gymnast in an indoor stadium", "indoor", True),
        ("a glider under the sea of clouds", "underwater", False),
        ("a couple kissing under the river bridge", "underwater", False),
        ("a beetle below the surface of the sand", "underwater", False),
        ("an old man with sunken cheeks on a park bench", "underwater", False),
        ("an underground rapper on a rooftop at sunset", "underground", False),
        ("the empty bottle on a table", "alone", False),
        ("a penguin at an empty airport at midnight", "alone", True),
        ("a boy by the lake eating frozen yogurt", "ice", False),
    ],
)
def test_setting_words_are_read_in_context(scene, tag, stated):
    assert (tag in parse_scene(scene).stated) is stated


@pytest.mark.parametrize(
    "scene, noun, kind",
    [
        ("a baby duckling in a pond", "duckling", "bird"),  # an -ing noun, not a verb
        ("a chicken dumpling on a plate", "dumpling", "food"),
        ("a ventriloquist\u2019s dummy on a stool", "dummy", "thing"),  # a curly apostrophe
        ("a stone's throw from the sea", "sea", "landscape"),  # a measure, not a subject
    ],
)
def test_the_subject_is_read_in_context(scene, noun, kind):
    main = parse_scene(scene).main
    assert (main.noun, main.kind) == (noun, kind)


@pytest.mark.parametrize(
    "scene", ["a cat, enchanting lighting", "a train during a blizzard", "a tram, evening light"]
)
def test_a_style_or_time_word_after_a_comma_is_no_action(scene):
    assert parse_scene(scene).actions == []


def test_a_prop_is_named_only_as_a_thing_in_the_scene():
    rocket = _concept("a rocket on the launch pad venting vapour")
    assert not rocket.prop_named(parse_scene("a rocket salad on a table outdoors"))
    assert rocket.prop_named(parse_scene("a rocket on its launch pad at dawn"))


def test_hands_at_rest_are_refused_for_a_busy_subject():
    concept = _concept("soft window light on {poss} hands at rest")
    assert concept.conflict(parse_scene("a bookbinder stitching spines in a room")) is not None
    assert concept.conflict(parse_scene("an old woman in a quiet room in the afternoon")) is None


def test_a_subject_holds_one_pose_or_activity_at_a_time():
    chin = _concept("{poss} chin resting on crossed paws")
    lap = _concept("resting {poss} head on a familiar lap")
    leap = _concept("leaping after a bright bouncing ball")
    palette = _concept("iridescent mother-of-pearl colours")
    assert chin.clashes_with(lap) and lap.clashes_with(chin)  # two poses at rest
    assert chin.clashes_with(leap)  # at rest and running
    assert not chin.clashes_with(palette) and not palette.clashes_with(leap)
    assert not chin.clashes_with(chin)


@pytest.mark.parametrize(
    "scene, thing",
    [
        ("a glassblower shaping molten glass in a dim workshop before dawn", "glass"),
        ("a milliner pulling down the shutters of her shop on a snowy evening", "shutters"),
        ("a bookbinder stitching spines in a quiet library basement", "spines"),
    ],
)
def test_nothing_is_propped_on_what_the_subject_is_working_on(scene, thing):
    # seen: "an ancient map spread beneath the glass", "the shutters left behind, covered in
    # dust", "the spines with sun-warmed laundry folded on it"
    model = parse_scene(scene)
    handled = [e.noun for e in model.entities if e.handled]
    assert handled == [thing]
    props = [
        c
        for e in Emotion
        for c in load_concept_graph().concepts(e)
        if c.facet == "object" and c.bound and model.owner_for(c.needs) is not None
    ]
    on_it = [c for c in props if model.owner_for(c.needs).noun == thing]
    reasons = [c.conflict(model) for c in on_it]
    assert on_it and all(reasons)
    assert any("in the subject's hands" in r for r in reasons if r)


def test_a_place_or_a_rest_is_not_worked_on():
    assert not any(e.handled for e in parse_scene("a cat sleeping on a rug by a stove").entities)
    assert not any(e.handled for e in parse_scene("a fox asleep in a barn").entities)
    # the thing is not the subject's own: the scene's main subject is never handled
    assert not parse_scene("a kite flying over a beach").main.handled


def test_an_afternoon_is_day_not_evening():
    # seen: "a still clear evening with a light breeze" on "a lazy midsummer afternoon"
    scene = parse_scene("a binturong dozing in a sunlit hammock on a lazy midsummer afternoon")
    assert "day" in scene.stated and "twilight" not in scene.stated
    assert "twilight" in parse_scene("a fox on a late afternoon walk").stated


def test_in_orbit_there_is_no_sky_and_no_ground():
    # seen: "the greenhouse towering against the sky" and "towering cumulus clouds filling
    # the sky" for "a derelict greenhouse module in orbit"
    stated = stated_tags(
        parse_scene("a derelict greenhouse module in orbit").facts, frozenset({"space"})
    )
    assert "space" in stated and not {"outdoor", "sky"} & stated


def test_the_head_of_a_possessive_phrase_is_the_subject():
    # seen: "the coal with a crack mended with tape" for "a coal miner's widow lighting a
    # candle at the pithead"
    scene = parse_scene("a coal miner's widow lighting a candle at the pithead")
    assert scene.main.noun == "widow" and scene.main.kind == "person"
    assert parse_scene("the king's horse at dawn").main.noun == "horse"


@pytest.mark.parametrize(
    "scene, fits",
    [
        ("an empty funicular stalled halfway up a cliff during a howling blizzard at night", False),
        ("a shepherd's hut surrounded by wolves on a moonless winter night", False),
        ("a funicular stalled halfway up a cliff at noon", True),
        ("a funicular stalled halfway up a cliff", True),  # no time stated: the hawk may join
    ],
)
def test_animals_about_only_by_day_are_refused_at_night(scene, fits):
    # seen on a held-out set: "a hawk diving talons-first" on a blizzard night, "a sky of
    # wheeling crows" on a moonless night, "a wasp nest buzzing" at midnight
    _assert_free_tag("a hawk diving talons-first", "diurnal", scene, fits)


@pytest.mark.parametrize(
    "scene, fits",
    [
        ("a welder on a bridge at night", False),
        ("a shepherd on a hillside at dusk", True),  # a low sun in the eyes
        ("a welder on a bridge", True),
    ],
)
def test_shading_the_eyes_needs_daylight(scene, fits):
    # seen (the README's commands, read as a user would): "hand raised to shade the eyes,
    # looking out" for "a welder on a bridge at night"
    _assert_free_tag("{poss} hand raised to shade the eyes, looking out", "diurnal", scene, fits)


def test_a_wire_is_built_infrastructure():
    # seen (a demanding-user run): "a lone bird on a wire" on "a harp seal pup alone on a
    # thawing ice floe in grey fog"
    wire = _concept("a lone bird on a wire")
    assert "built" in wire.setting
    assert wire.conflict(parse_scene("a harp seal pup alone on a thawing ice floe")) is not None
    assert wire.conflict(parse_scene("a lone crow over a village street at dusk")) is None


def test_a_room_of_no_known_kind_has_no_tables():
    # seen (held-out sets 6-8): "an ancient map spread beneath the lantern" in an underground
    # cistern, "a bowl of ripe plums" at a wombat's burrow: `indoor` alone no longer implies table
    plums = _concept("a bowl of ripe plums")
    assert "table" in plums.setting
    assert plums.conflict(parse_scene("inside a vast underground cistern lit by a lantern"))
    assert plums.conflict(parse_scene("a grandmother in her kitchen at noon")) is None
    assert plums.conflict(parse_scene("a couple at a restaurant at dusk")) is None


@pytest.mark.parametrize(
    "scene, fits",
    [
        ("a wombat asleep in the sun on a grassy hillside on a mild spring morning", False),
        ("a dog sled team sprinting across a frozen lake at dawn", False),
        ("a grandmother knitting in her kitchen at noon", True),
        ("a street drummer in a rainy city square", True),
    ],
)
def test_things_people_set_down_need_a_place_people_made(scene, fits):
    # seen (held-out sets 8-9): "a steaming cup of tea nearby" at a wombat's burrow and in an
    # orchard, a half-eaten sandwich beside a wild animal
    for text in ("a steaming cup of tea nearby", "a half-eaten sandwich with mould spots"):
        assert (_concept(text).conflict(parse_scene(scene)) is None) is fits


@pytest.mark.parametrize(
    "scene, fits",
    [
        (
            "a ferry purser shouting at stranded passengers in a windswept terminal at midnight",
            False,
        ),
        ("a tram conductor yelling at fare dodgers aboard a packed car", False),
        ("a wolf howls at the moon", False),
        ("a clerk filing papers in a quiet office", True),
        ("a farmer under a low black sky at dusk", True),  # "low" is no cow lowing
    ],
)
def test_a_mouth_held_shut_is_refused_where_the_subject_uses_its_voice(scene, fits):
    # seen (sets 6-9, three times): "the purser's lips pressed into a thin hard line" while he
    # shouts at stranded passengers
    _assert_free_tag("{poss} lips pressed into a thin hard line", "quiet", scene, fits)


@pytest.mark.parametrize(
    "text",
    ["{poss} jaw clenched, nostrils flared", "{poss} teeth gritted, cheeks flushed red"],
)
def test_every_shut_mouth_is_quiet_whatever_its_table_line_says(text):
    # seen on held-out sets 10 and 12: "the stag's jaw clenched" while it bellows, "teeth
    # gritted" on a toll booth attendant yelling at traffic
    _assert_free_tag(text, "quiet", "a toll booth attendant yelling at honking traffic", False)
    _assert_free_tag(text, "quiet", "a clerk filing papers in a quiet office", True)
    # a clenched fist is no shut mouth
    assert "quiet" not in _concept("{poss} clenched fists and a furrowed brow").setting


@pytest.mark.parametrize(
    "scene, fits",
    [
        ("a lumberjack sprinting across spinning logs on a river", False),
        ("a lone flamingo wading in a soda lake at noon", False),
        ("a fishing boat leaving a harbour at dawn", True),
        ("a dhow crew hoisting a sail as a squall hits the open sea", True),
    ],
)
def test_surf_and_beaches_need_the_sea_not_any_water(scene, fits):
    # seen (held-out set 9): "surf crashing in white spray" on spinning logs on a river, "a grey
    # sea under a grey sky" and "a grey empty beach" in a soda lake
    surf = _concept("surf crashing in white spray")
    assert "sea" in surf.setting
    assert (surf.conflict(parse_scene(scene)) is None) is fits


def test_a_framing_is_about_who_the_picture_shows():
    # seen (sets 6-9): "the footsteps tiny in the corner of a dark frame" for a night watchman
    # hearing footsteps, "the coal off-centre in a wide empty frame" for a coal miner's widow
    frame = _concept("{the} tiny in the corner of a dark frame")
    assert frame.facet == "composition" and frame.bound
    watchman = parse_scene("a lone night watchman hearing footsteps in an empty wax museum")
    assert frame.conflict(watchman) is not None
    assert frame.conflict(parse_scene("a rusty lantern on a stone floor at night")) is None


def test_an_agent_noun_the_parser_reads_is_not_made_a_subject_of_unknown_kind():
    # "a bell founder": the parser's own reading (a person) stays the main subject
    model = parse_scene("a bell founder pouring molten bronze into a mould")
    assert (model.main.noun, model.main.kind) == ("founder", "person")
    assert [e.noun for e in model.entities].count("founder") == 1


def test_every_visible_sun_needs_a_clear_sky_whatever_its_table_line_says():
    text = "soft golden hour glow"
    # seen on held-out set 12 (after its measurement): "soft golden hour glow" on a red panda
    # asleep on a drizzly autumn morning
    _assert_free_tag(text, "clear", "a red panda asleep in a mossy tree in drizzle at dusk", False)
    _assert_free_tag(text, "clear", "a fox curled up in an open meadow at dusk", True)
    assert "clear" in _concept("cotton-candy pink clouds at sunset").setting
    # a concept that names the weather hiding the sun keeps its own tags
    assert "clear" not in _concept("a sun shower with a rainbow arching overhead").setting


def test_the_nouns_before_an_unknown_head_modify_it_and_are_no_subjects():
    # seen running the README's rewrite on "a top fuel dragster ...": with the dragster read as
    # the subject, "the fuel with speed lines" still bound to the fuel, a second subject
    model = parse_scene("a top fuel dragster blasting off the start line at night")
    assert model.main.noun == "dragster"
    assert "fuel" not in {e.noun for e in model.entities}


def test_concept_risk_shrinks_each_count_toward_the_pooled_rate(monkeypatch):
    # the blind readers' counts rank concepts they keep refusing lower; one clash is not a rule
    table = (
        "# comment\n"
        "refused everywhere\t8\t8\n"
        "refused once\t1\t1\n"
        "read fine\t10\t0\n"
        "average\t40\t8\n"
    )
    monkeypatch.setattr(setting_mod, "_data", lambda name: table)
    setting_mod.concept_risk.cache_clear()
    try:
        risk = setting_mod.concept_risk()
    finally:
        setting_mod.concept_risk.cache_clear()
    assert risk["refused everywhere"] > risk["refused once"] > 0
    assert "read fine" not in risk  # no better than average costs nothing, and earns nothing
    assert risk["refused everywhere"] > 1.5


@pytest.mark.parametrize(
    "line, says",
    [
        ("a concept\t3\n", "expected TEXT, LABELLED, CLASHED (2 columns)"),
        ("a concept\t2\t1\textra\n", "expected TEXT, LABELLED, CLASHED (4 columns)"),
        ("a concept\tthree\t1\n", "LABELLED and CLASHED must be whole numbers"),
        ("a concept\t2\t3\n", "expected 0 <= CLASHED <= LABELLED"),
        ("fine\t4\t1\n", "'fine' is listed twice"),
    ],
)
def test_a_broken_concept_risk_line_is_named(monkeypatch, line, says):
    monkeypatch.setattr(setting_mod, "_data", lambda name: "fine\t2\t1\n" + line)
    setting_mod.concept_risk.cache_clear()
    try:
        with pytest.raises(ValueError, match=f"concept_risk.tsv line 2: {re.escape(says)}"):
            setting_mod.concept_risk()
    finally:
        setting_mod.concept_risk.cache_clear()


@pytest.mark.parametrize("table", ["", "# only a comment\n", "a\t3\t0\nb\t2\t0\n", "a\t2\t2\n"])
def test_concept_risk_without_both_outcomes_ranks_nothing(monkeypatch, table):
    # no labels, or every label one way: no pooled rate to compare with (and no log of 0)
    monkeypatch.setattr(setting_mod, "_data", lambda name: table)
    setting_mod.concept_risk.cache_clear()
    try:
        assert dict(setting_mod.concept_risk()) == {}
    finally:
        setting_mod.concept_risk.cache_clear()


def test_the_shipped_concept_risk_names_concepts_of_the_graph():
    risk = setting_mod.concept_risk()
    assert risk  # the blind labels shipped with the package
    with pytest.raises(TypeError):
        risk["a new concept"] = 1.0  # type: ignore[index]  # shared by every caller: read-only
    assert set(risk) <= set(concept_settings())  # counts of concepts that still exist


@pytest.mark.parametrize(
    "scene, fits",
    [
        # set 27: "the cat's lips pulled back in a snarl" on a tabby cat that sleeps
        ("A tabby cat sleeps on a windowsill while rain streaks the glass", False),
        ("a dormouse curled asleep in a teapot", False),
        ("a tabby cat on a windowsill watching the rain", True),
        ("a terrier on a porch, two cats dozing on the rail", True),  # another's sleep
    ],
)
def test_a_waking_face_is_refused_where_the_subject_sleeps(scene, fits):
    _assert_free_tag("{poss} lips pulled back in a snarl", "awake", scene, fits)


@pytest.mark.parametrize(
    "scene, fits",
    [
        # sets 26-27: a perched snow leopard got "racing forward mid-stride", a parked
        # motorcycle "crossing a giant suspension bridge"
        ("A snow leopard perched on a rocky ledge in the Himalayas", False),
        ("a vintage motorcycle parked outside a roadside diner", False),
        ("a narrowboat moored beneath weeping willows", False),
        ("a snow leopard stalking across a rocky ledge", True),
        ("a motorcycle racing over a mountain pass", True),
        ("a steam locomotive bursting out of a tunnel", True),  # a verb before a path
        # and where the scene says nothing of it: in the blind labels of sets 1-34, such
        # travel clashed in 43% of 102 phrases where the scene set no motion ("a highland cow
        # wedged in a telephone kiosk" chasing its tail), 25% of 88 where it did
        ("a motorcycle on a mountain pass", False),
        ("a dog in a park", False),
    ],
)
def test_travel_of_its_own_joins_only_a_scene_that_sets_its_subject_moving(scene, fits):
    concept = _concept("{the} bursting toward the lens in a wide-angle close-up")
    assert "moving" in concept.setting
    assert (concept.conflict(parse_scene(scene)) is None) is fits


@pytest.mark.parametrize(
    "scene, fits",
    [
        # set 27: "low angle through a buzzing swarm of flies" at an octopus in a sunken hull
        ("An octopus squeezes through a crack in a sunken ship's hull", False),
        ("a manta ray gliding over a coral wall in deep blue water", False),
        ("a fox sniffing at a rubbish bin in an alley", True),
    ],
)
def test_things_of_the_air_are_refused_underwater(scene, fits):
    _assert_free_tag("low angle through a buzzing swarm of flies at {the}", "air", scene, fits)


@pytest.mark.parametrize(
    "scene, fits",
    [
        # set 28: "wide open-mouthed grin" on a flock of flamingos and on a shoebill stork
        ("A flock of flamingos wading across a salt lake at sunrise", False),
        ("A shoebill stork standing in a papyrus swamp", False),
        ("a golden retriever on a beach", True),
        ("a boy on a beach", True),
    ],
)
def test_a_grin_needs_lips(scene, fits):
    concept = _concept("{poss} wide open-mouthed grin")
    assert (concept.conflict(parse_scene(scene)) is None) is fits


@pytest.mark.parametrize(
    "scene, fits",
    [
        # sets 26 and 29: "chunky knit wool" on a humid monsoon balcony and in a Kansas July
        ("a crop-dusting biplane over sunflower fields on a humid July afternoon", False),
        ("a fennec fox napping in the shade during the midday heat", False),
        ("a shepherd on a hillside in November", True),
    ],
)
def test_warmth_against_the_cold_is_refused_where_the_scene_states_heat(scene, fits):
    _assert_free_tag("chunky knit wool", "cool", scene, fits)


@pytest.mark.parametrize(
    "scene, fits",
    [
        # set 30: "the horizon dropped to the bottom edge beneath the vast sky" on a pangolin
        # curling into a ball on a muddy rainforest trail
        ("A pangolin curling into a ball on a muddy forest trail in Borneo", False),
        ("a shepherd on an open hillside at dusk", True),
        ("a rooftop beekeeper in Paris on a windy spring morning", True),
    ],
)
def test_a_far_view_is_refused_under_a_forest_canopy(scene, fits):
    _assert_free_tag("horizontal frame with a low horizon", "vista", scene, fits)


@pytest.mark.parametrize(
    "scene, fits",
    [
        # set 31: blinds and a window in a chapel carved deep beneath a village
        (
            "A chapel carved from rock salt deep beneath a Polish village, its chandeliers "
            "hanging over an empty nave.",
            False,
        ),
        ("Coal miners eat lunch by headlamp in a narrow seam deep beneath a Silesian town.", False),
        ("a sewer worker wading through sludge beneath the streets of Paris", False),
        ("a clerk in a dusty office in Paris", True),
        ("an old priest in a village chapel", True),
    ],
)
def test_a_window_is_refused_below_ground(scene, fits):
    _assert_free_tag("faint light through dusty blinds", "window", scene, fits)


@pytest.mark.parametrize(
    "scene",
    [
        "a gardener resting beneath an oak tree",
        "a busker beneath the street lamps",
        "a lone astronaut drifting while the Earth turns silently far below in the blackness",
        "a diver hovering deep beneath the surface of the sea",
        # a fresh-eyes review's cases
        "street musicians playing beneath the city skyline at dusk",
        "a deer standing deep under the forest canopy",
        "a village nestled deep below snowy peaks",
        "a climber deep below the cliffs",
        "a child asleep deep under the covers",
    ],
)
def test_beneath_a_tree_a_lamp_or_the_surface_is_not_below_ground(scene):
    assert "subterranean" not in parse_scene(scene).facts


@pytest.mark.parametrize(
    "scene, space",
    [
        # set 32: "a lantern glowing through tent canvas at night" on a space station
        (
            "A space station drifts above the night side of Earth while lightning flickers below.",
            True,
        ),
        (
            "A supply capsule docks with the space station as it passes over the Pacific Ocean.",
            True,
        ),
        ("an astronaut floating in orbit", True),
        ("a car in a parking space", False),
        ("vultures orbiting above the savanna", False),
        ("gulls orbiting a fishing boat off the coast", False),
        ("a dancer moving in space", False),
        ("the space shuttle on its launch pad at Cape Canaveral", False),
    ],
)
def test_a_station_in_orbit_is_in_space_not_in_a_town(scene, space):
    tags = stated_tags(parse_scene(scene).facts)
    assert ("space" in tags) is space
    if space:
        assert not tags & {"city", "road", "sea", "water", "outdoor"}


@pytest.mark.parametrize(
    "scene, fits",
    [
        # set 30: a supercell on the horizon from a felt ger during a blizzard; set 29: a jagged
        # mountain ridge across a crevasse field in a whiteout
        ("a glacier surveyor plants flags across a crevasse field during a blizzard", False),
        ("a shepherd on an open hillside on a foggy morning", True),
        ("a shepherd on an open hillside on a frosty morning", True),
    ],
)
def test_a_far_view_is_refused_in_falling_snow(scene, fits):
    _assert_free_tag("horizontal frame with a low horizon", "vista", scene, fits)


@pytest.mark.parametrize(
    "scene, moving",
    [
        ("a red rally car racing along a gravel forest road", True),
        ("camels thundering across the dunes at sunrise", True),  # a verb before a path
        ("horses gallop across the field", True),  # a plural's verb
        ("a combine harvester cuts through golden wheat fields", True),
        # the review's cases: a look or a word down a path, moving on the spot
        ("a woman looking out the window at the rain", False),
        ("an old man staring up at the stars", False),
        ("a man shouting into a phone", False),
        ("a croupier slamming down her cards", False),
        ("a tree swaying in the wind", False),
        ("a dancer spinning on stage", False),
        ("a girl shivering in the snow", False),
        ("a hydrofoil skimming across a choppy harbour at noon", True),
        ("a paraglider soaring above alpine meadows", True),
        ("a vintage camera on a wooden desk", False),
        ("a snow leopard perched on a rocky ledge", False),  # kept in place
        ("a chef turning pancakes in a diner", False),  # "turn" is first of all no travel
        ("a dog in a park", False),
    ],
)
def test_a_scene_states_moving_where_its_subject_travels(scene, moving):
    assert ("moving" in parse_scene(scene).facts) is moving


@pytest.mark.parametrize(
    "scene, still",
    [
        # a thing set down stays there (using it as a user: "the camera mid-bounce, frozen in
        # the air" for a camera on a desk; set 34: "the camera flipping through the air")
        ("vintage camera on a wooden desk beside a stack of old letters", True),
        ("a pitcher of iced lemonade on a farmhouse porch at noon", True),
        ("a kite over a windy beach", False),  # not set down
        ("a red car on a coast road", False),  # a vehicle may drive off
        ("a dog in a park", False),
    ],
)
def test_a_thing_set_down_is_stationary_and_does_nothing_of_its_own(scene, still):
    parsed = parse_scene(scene)
    assert ("stationary" in parsed.facts) is still
    bounce = _concept("{the} mid-bounce, frozen in the air")
    if still:
        assert bounce.conflict(parsed) is not None


@pytest.mark.parametrize(
    "scene, fits",
    [
        # sets 4, 10, 38: "dim murky light with a green cast" at noon and at golden hour
        ("Vulture picking at a bloated carcass by a roadside ditch at noon", False),
        ("a teenager flying a kite on a windy beach at golden hour", False),
        ("a goatherd on a sunny hillside", False),
        # what shuts the sun out: a roof, rain, fog, a forest's canopy, the night, overcast
        ("a butcher in a cold store at noon", True),
        ("a vulture at a roadside ditch at noon in the rain", True),
        ("a farmer in a foggy field at midday", True),
        ("two okapis drinking from a muddy stream deep in the Congo rainforest at midday", True),
        ("a vulture on a fence post under a clear night sky", True),
        ("a vulture on a fence post at noon under an overcast sky", True),
        # no sun stated
        ("a tanner scraping hides beside a reeking vat on a humid summer afternoon", True),
        # no cloud by day is sunshine (set 41); at dusk or at night the sun has gone
        ("a cliff diver plunging into a turquoise cove on a cloudless afternoon", False),
        ("a lighthouse under a cloudless sky at dusk", True),
        ("stars over a desert on a cloudless night", True),
        # a clear sky the sun has left (a fresh-eyes review)
        ("a lighthouse under a clear sky at dusk", True),
        ("a mountain hut glowing with alpenglow at dusk", True),
        ("a fox at moonrise over a frozen lake", True),
    ],
)
def test_dim_light_is_refused_where_the_scene_states_sunshine(scene, fits):
    _assert_free_tag("dim murky light with a green cast", "diffuse", scene, fits)


def test_heat_haze_is_no_fog_and_overcast_rules_out_sunshine():
    assert "fog" not in parse_scene("a gas station in the desert at midday, heat haze").facts
    # set 9: "the mule in the shadow of a passing cloud" under a leaden sky
    _assert_free_tag(
        "bright flat light with crisp little shadows",
        "clear",
        "a mule in a mine yard under an overcast sky",
        False,
    )


def test_concepts_readers_refused_more_often_than_not_are_not_offered(monkeypatch):
    table = "often\t6\t5\nonce\t2\t2\nmixed\t10\t4\nsafe\t9\t0\n"
    monkeypatch.setattr(setting_mod, "_data", lambda name: table)
    setting_mod.refused_by_readers.cache_clear()
    try:
        # five labels at least, and (clashed + 1) / (labelled + 2) >= 0.5
        assert setting_mod.refused_by_readers() == {"often"}
    finally:
        setting_mod.refused_by_readers.cache_clear()


def test_the_graph_does_not_offer_a_concept_readers_refused():
    refused = setting_mod.refused_by_readers()
    assert "a bicycle leaning against a fence" in refused  # 7 clashes in 13 labelled scenes
    graph = load_concept_graph()
    scene = parse_scene("a boy walking a dog along a garden fence on a sunny afternoon")
    texts = {c.text for e in ("contentment", "sadness") for c in graph.candidates(e, scene)}
    assert not texts & refused and texts  # other concepts stay
    bicycle = next(c for c in graph.concepts("contentment") if c.text.startswith("a bicycle"))
    assert bicycle.conflict(scene) is None  # nothing in the scene contradicts it


@pytest.mark.parametrize(
    ("scene", "fits"),
    [
        ("a groundsman painting white lines on a football pitch on a frosty morning", False),
        ("a hot-air balloon over the fairy chimneys of Cappadocia at sunrise", False),
        ("dockworkers waving placards in front of a container crane at dusk", False),
        ("a roofer laying slate tiles under a cloudless sky at noon", True),
        ("a motorbike on a gravel road in the afternoon", True),  # the sun may be high
    ],
)
def test_a_high_sun_is_refused_where_the_scene_states_a_low_one(scene, fits):
    # seen: "hard overhead light carving deep shadows" on a frosty morning (set 37)
    _assert_free_tag("hard overhead light carving deep shadows", "high_sun", scene, fits)


@pytest.mark.parametrize(
    ("scene", "fits"),
    [
        ("a ski patroller tossing an avalanche charge from a ridge in falling snow", False),
        ("dock workers striking outside a shuttered shipyard in freezing sleet", False),
        ("a boxer training in a gym", True),
    ],
)
def test_sweat_is_refused_where_the_scene_is_cold(scene, fits):
    # seen: "sweat droplets flying off" on a freezing ridge in falling snow (set 39)
    _assert_free_tag("grit and sweat on skin", "warm", scene, fits)
    _assert_free_tag("sweat droplets flying off", "warm", scene, fits)


def test_a_refused_concept_joins_a_scene_that_names_what_it_shows():
    graph = load_concept_graph()
    text = "fireworks bursting overhead and lighting {the} in red and gold"
    assert text in setting_mod.refused_by_readers()
    concept = next(c for e in Emotion for c in graph.concepts(e) if c.text == text)
    assert concept.fits(parse_scene("a crowd watching fireworks over the harbour at night"))
    assert not concept.fits(parse_scene("a crowd in a town square at night"))


def test_the_sun_s_glare_is_sunshine_and_a_harsh_top_light_is_a_high_sun():
    """Set 104, both readers: "soft even light with no harsh shadows" under a late afternoon
    snow glare, and "harsh top light throwing black shadows across the cowhand's eyes" at golden
    hour (a light from straight above is the noon sun's)."""
    soft = _concept("soft even light with no harsh shadows")
    glare = parse_scene("a shepherd counting ewes on a snowy fell, late afternoon snow glare")
    assert "sunlit" in glare.stated and soft.conflict(glare) is not None
    assert soft.conflict(parse_scene("a shepherd counting ewes on a snowy fell")) is None
    # (a review: a lamp's glare off water at night is no sun)
    assert (
        "sunny"
        not in parse_scene("a neon-lit canal at night, streetlight glare off the water").facts
    )
    top = _concept("harsh top light throwing black shadows across {poss} eyes")
    golden = parse_scene("a cowhand roping a bucking calf in a dusty bullpen at golden hour")
    assert top.conflict(golden) is not None
    assert top.conflict(parse_scene("a cowhand roping a calf in a dusty bullpen")) is None


def test_a_pale_grey_light_is_refused_under_a_stated_sun():
    # set 106, both readers: "a thin band of pale light over grey water" on a bright beach morning
    band = _concept("a thin band of pale light over grey water")
    bright = parse_scene("an origamist folding paper cranes at a beach bar on a bright morning")
    grey = parse_scene("an origamist folding paper cranes at a beach bar on a grey morning")
    assert band.conflict(bright) is not None and band.conflict(grey) is None


@pytest.mark.parametrize(
    "text",
    [
        "harsh top light throwing black shadows across {poss} eyes",
        "stark high-contrast light with crushed black shadows",
        # set 107, both readers: a goral's backlit halo on an overcast cliff
        "backlight turning {poss} fur into a glowing halo",
    ],
)
def test_a_hard_light_is_refused_under_rain_or_an_overcast_sky(text):
    """Set 107, both readers, three times: "harsh top light throwing black shadows across its
    eyes" for a cygnet in soft spring drizzle; hard lines clashed in 6 of 8 overcast readings."""
    concept = _concept(text)
    assert concept.conflict(parse_scene("a goat balancing on a cliff ledge in spring drizzle"))
    assert concept.conflict(parse_scene("a goat balancing on a cliff ledge, overcast afternoon"))
    assert concept.conflict(parse_scene("a goat balancing on a cliff ledge at night")) is None


def test_a_bright_shadowless_light_is_refused_under_rain():
    """Set 105, both readers: "bright high-key light with barely a shadow" for a petsitter in a
    sudden downpour, "bright fill light that makes every colour pop" under grey November rain."""
    wet = parse_scene("a petsitter tangled in dog leads outside a nailbar during a sudden downpour")
    dry = parse_scene("a petsitter tangled in dog leads outside a nailbar")
    for text in (
        "bright high-key light with barely a shadow",
        "bright fill light that makes every colour pop",
    ):
        assert _concept(text).conflict(wet) is not None
        assert _concept(text).conflict(dry) is None


def test_a_hard_backlight_is_refused_under_the_sun():
    """Sets 1-95: "harsh red backlight" clashed in 4 of 21 readings of sunlit or midday scenes
    (both readers), 0 of 57 at night, 4 of 330 where the scene states no light."""
    concept = _concept("harsh red backlight")
    noon = parse_scene("a secretary bird stamping on a snake in dry savanna grass at noon")
    assert "lit" not in noon.facts and concept.conflict(noon) is not None
    assert concept.conflict(parse_scene("a jazz trumpeter in a smoky club at night")) is None
    assert concept.conflict(parse_scene("a boxer shadow-boxing in a gym")) is None


@pytest.mark.parametrize(
    "text",
    [
        "hot red-orange key light from one side",
        "vivid orange and electric-blue rim lights on either side of {the}",
    ],
)
def test_a_hard_coloured_light_is_refused_under_a_stated_sun_or_grey_sky(text):
    """A colour from the side or the rim, as the hard red backlight (`gel` in setting.yaml)."""
    concept = _concept(text)
    assert concept.conflict(parse_scene("a farmer forking hay in a field at noon")) is not None
    assert concept.conflict(parse_scene("a surfer on a grey overcast morning")) is not None
    # by any stated day: a paddleboarder the morning after the storm (set 98, a dev reading)
    morning = parse_scene(
        "a paddleboarder racing across a flooded lay-by the morning after the storm"
    )
    assert concept.conflict(morning) is not None
    assert concept.conflict(parse_scene("a jazz trumpeter in a smoky club at night")) is None


@pytest.mark.parametrize(
    ("scene", "lit"),
    [
        ("a gem cutter polishing an emerald under flat overcast light", True),
        ("a luthier carving the scroll of a cello by lamplight in a workshop", True),
        ("watercolor of horseshoe crabs crawling ashore on a moonlit bay beach", True),
        ("an engraver cutting a copper plate under a magnifying lamp late at night", True),
        ("a crossing guard holding a stop sign outside a school in light snow", False),
        ("a cyclist passing under a lamp post", False),
        # a flash lights the picture (set 104: an opossum in a brewhouse at midnight, flash
        # photo, got "deep shadow with a thin rim of light"; the strict reader: a clash)
        ("an opossum hanging from the rafters of an old brewhouse at midnight, flash photo", True),
        ("a toddler blowing out candles, shot with on-camera flash", True),
        ("a flash flood tearing through a canyon", False),
        ("a car stuck in a flash flood", False),
        ("a hacker with a flash drive in a dark room", False),
    ],
)
def test_a_scene_that_states_its_light_is_not_relit(scene, lit):
    # set 39: "harsh red backlight" under flat overcast light, on a moonlit beach
    parsed = parse_scene(scene)
    assert ("lit" in parsed.facts) is lit
    concept = _concept("harsh red backlight")
    assert concept.facet == "light"
    # (under overcast light it is also a hard backlight under an overcast sky: either reason)
    assert (concept.conflict(parsed) is not None) is lit


@pytest.mark.parametrize(
    ("text", "scene", "fits"),
    [
        # set 39: cumulus of no weather of its own under a stated grey overcast sky
        (
            "towering cumulus clouds filling the sky",
            "a man skimming stones on a grey overcast morning",
            False,
        ),
        (
            "towering cumulus clouds filling the sky",
            "a man skimming stones across a quarry in the afternoon",
            True,
        ),
        # a line of the scene's own weather stays
        ("drizzle hanging in the air", "a fisherman mending nets on a quay in the rain", True),
        ("drizzle hanging in the air", "a fisherman mending nets on a quay on a clear day", False),
    ],
)
def test_a_weather_line_keeps_to_the_weather_the_scene_states(text, scene, fits):
    concept = _concept(text)
    assert concept.facet == "weather"
    assert (concept.conflict(parse_scene(scene)) is None) is fits


def test_noon_is_neither_morning_nor_afternoon():
    # set 39: "afternoon sun resting on the harvester" in a desert oasis at noon
    scene = parse_scene("a date harvester climbing a palm trunk in a desert oasis at noon")
    assert "midday" in scene.facts
    concept = _concept("afternoon sun resting on {the}")
    assert "afternoon" in concept.conflict(scene)
    assert (
        _concept("afternoon sun resting on {the}").conflict(
            parse_scene("a date harvester climbing a palm trunk in a desert oasis on a sunny day")
        )
        is None
    )


@pytest.mark.parametrize(
    ("text", "sunless"),
    [
        ("soft overcast light with no harsh shadows", True),
        ("thick fog swallowing the path", True),
        ("{the} low in the frame under a vast grey sky", True),
        ("pale gold morning mist lifting off a meadow", False),  # mist lies under a low sun
        ("{the} wilting in a vase of cloudy green water", False),  # cloudy water, not sky
    ],
)
def test_a_line_that_hides_the_sun_is_refused_where_it_shines(text, sunless):
    # set 39's scene after the noon fix: "soft overcast light with no harsh shadows" in a desert
    # oasis at noon (in the blind labels, such lines clashed in 4 of 12 readings of sunlit scenes)
    concept = _concept(text)
    assert ("diffuse" in concept.setting) is sunless
    noon = parse_scene("a date harvester climbing a palm trunk in a desert oasis at noon")
    if sunless:
        assert concept.conflict(noon) is not None


def test_deep_or_looming_shadow_is_refused_under_a_stated_sun():
    # set 42: an aerial view of sulfur springs under scorching midday heat got "a looming shadow
    # stretching across the ground" and "deep shadow with a thin rim of light"
    noon = parse_scene(
        "aerial view of the Danakil sulfur springs steaming in yellow and green pools under "
        "scorching midday heat"
    )
    night = parse_scene("a night watchman walking through an empty field at night")
    for text in (
        "a looming shadow stretching across the ground",
        "deep shadow with a thin rim of light",
    ):
        assert "shade" in _concept(text).setting
        assert _concept(text).conflict(noon) is not None
        assert _concept(text).conflict(night) is None
    # hard sun shadows and a low sun's long shadows are sunshine, not shade
    assert "shade" not in _concept("hard overhead light carving deep shadows").setting
    assert (
        "shade" not in _concept("hard low sun throwing long blue shadows across fresh snow").setting
    )


@pytest.mark.parametrize(
    ("scene", "fits"),
    [
        (
            "35mm film photo of a wooden Kolkata tram rattling past a flower market at twilight",
            False,
        ),
        (
            "a Wuppertal suspension railway carriage gliding above the river on a rainy evening",
            False,
        ),
        ("an old tram in a weedy depot at dusk", True),
    ],
)
def test_a_subject_in_use_is_not_left_to_rot(scene, fits):
    # set 42: "the tram abandoned and rusting, its paint flaking away" for a tram rattling past
    concept = _concept("{the} abandoned and rusting, its paint flaking away")
    assert "rest" in concept.setting
    assert (concept.conflict(parse_scene(scene)) is None) is fits


@pytest.mark.parametrize(
    ("scene", "rendered"),
    [
        # read while checking real outputs: "a rubber duck perched on its head" for a beekeeper
        ("a beekeeper lifting a frame of honeycomb", "a rubber duck perched on their head"),
        ("two sisters on a swing", "a rubber duck perched on their head"),
        ("a dog in a park", "a rubber duck perched on its head"),
    ],
)
def test_a_person_s_body_is_theirs(scene, rendered):
    assert _concept("a rubber duck perched on its head").render(parse_scene(scene)) == rendered


def test_a_subject_bent_over_its_work_gets_no_open_armed_pose_facing_a_view():
    """Set 85: "a watchmaker hunched over a movement under a loupe" (awe) got "arms spread
    wide, facing the view": its gaze is on its work and its hands are busy with it."""
    concept = load_concept_graph().get("{poss} arms spread wide, facing the view")
    assert "gaze_away" in concept.setting
    scene = parse_scene("a watchmaker hunched over a movement under a loupe")
    assert "eyes_down" in concept.conflict(scene)
    # a posture is no work: huddled over a fire, a pose at rest still fits
    campfire = parse_scene("an old man huddled over a small campfire at night")
    assert "busy" not in campfire.stated
    assert load_concept_graph().get("{poss} legs stretched out, ankles crossed").fits(campfire)
    assert concept.conflict(parse_scene("a hiker on a summit at dawn")) is None


def test_word_rules_are_data_and_a_bad_one_is_named():
    raw = load_setting_file().model_dump()
    rules = [
        {**r, "words": r["words"].pattern, "unless": r["unless"] and r["unless"].pattern}
        for r in raw["from_words"]
    ]
    assert {r["tag"] for r in rules} >= {"clear", "diffuse", "open_eyes", "gaze_away"}
    assert setting_mod.word_tags("soft golden hour glow") == {"clear"}
    assert setting_mod.word_tags("soft golden hour glow", frozenset({"fog"})) == frozenset()
    assert setting_mod.word_tags("a wolf's eyes in the dark") == frozenset()
    for bad, message in [
        ({"tag": "shade", "words": "(unclosed"}, "not a regular expression"),
        ({"tag": "shady", "words": "shade"}, "shady"),
        ({"tag": "shade", "words": "x", "unless_given": "nowhere"}, "names no earlier rule"),
        ({"tag": "night", "words": "x", "unless_tags": "free"}, "which `free` does not list"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            setting_mod.SettingFile.model_validate({**raw, "from_words": [*rules, bad]})


def test_leather_comes_only_into_a_scene_of_made_things():
    """Set 85: two dik-diks huddled under a thorn bush in a downpour got "well-worn leather"."""
    leather = load_concept_graph().get("well-worn leather")
    assert leather.conflict(parse_scene("two dik-diks huddled under a thorn bush in a downpour"))
    assert leather.conflict(parse_scene("a saddler stitching a bridle in his workshop")) is None


def test_set_86_clashes_are_refused_at_the_source():
    """Both readers called each a clash on set 86: short shadows at sunrise, a light added to
    lightless depths."""
    graph = load_concept_graph()
    sunrise = parse_scene("bharal balancing on a crumbling arete in Hunza at sunrise")
    assert graph.get("bright flat light with crisp little shadows").conflict(sunrise)
    depths = parse_scene("a bathysphere descending past drifting ctenophores in lightless depths")
    assert graph.get("harsh red backlight").conflict(depths)
    assert graph.get("harsh red backlight").conflict(parse_scene("a bathysphere at sea")) is None
    for dark_thing in ("a bride holding an unlit sparkler on a beach", "a pitch-black cat dozing"):
        assert "lit" not in parse_scene(dark_thing).facts, dark_thing  # a thing, not the light
    cabaret = parse_scene("he sleeps in a parked Daimler outside a cabaret at 3 a.m.")
    flare = graph.get("a flare's red light sputtering on wet rock")
    assert flare.conflict(cabaret)
    assert flare.conflict(parse_scene("a lifeboat crew on a rocky shore at night")) is None


def test_coloured_lights_need_something_built_to_hang_from_out_of_doors():
    """Set 100: orange and blue rim lights for a geocacher up a hornbeam, a mudlarker at low tide
    (mild to both readers); a street at night, a bedroom or a porch can hold the lamps."""
    rim = load_concept_graph().get(
        "vivid orange and electric-blue rim lights on either side of {the}"
    )
    for prompt in (
        "geocacher straddling a swaying branch in an ancient hornbeam",
        "mudlarker crouched at the foot of a crumbling drawdock at low tide",
    ):
        assert "open_air" in (rim.conflict(parse_scene(prompt)) or ""), prompt
    for prompt in (
        "a skateboarder in an empty car park at night",
        "a teenager dancing in her bedroom",
        "a couple dancing on a porch at night",
    ):
        assert rim.conflict(parse_scene(prompt)) is None, prompt
