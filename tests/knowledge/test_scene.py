import json
from importlib import resources
from typing import get_args

import pytest

from emotion_director.agents.text import estimate_clip_tokens
from emotion_director.emotions import Emotion
from emotion_director.knowledge import load_concept_graph, parse_scene
from emotion_director.knowledge.scene import (
    Kind,
    attribute_lexicon,
    contradiction,
    fit_subject,
    kind_of,
    look_conflict,
    name_positions,
    noun_kinds,
    phrase_facts,
    postures,
    stated_expression,
    stated_feeling,
)
from emotion_director.knowledge.setting import concept_settings, ruled_out, stated_tags

BUILTIN = sorted(
    {
        json.loads(line)["prompt"]
        for line in resources.files("emotion_director.evals")
        .joinpath("data", "builtin.jsonl")
        .read_text()
        .splitlines()
        if line.strip()
    }
)
#: Scenes from the issue where the old graph contradicted its subject.
HARD = [
    "a campfire at night",
    "a lighthouse on a sunny coast",
    "a horse in a snowy field",
    "a tram in the rain",
    "a goldfish in a bowl",
    "a puppy chewing a slipper",
    "an owl on a branch",
    "a moldy loaf of bread",
    "a girl with her dog on a beach",
    "firefighters at a burning house",
    "a sobbing toddler",
]


def test_lexicon_recognises_thousands_of_ordinary_nouns():
    kinds = noun_kinds()
    assert len(kinds) >= 3000
    for noun, kind in [
        ("accordion", "object"),
        ("goldfish", "fish"),
        ("owl", "bird"),
        ("toddler", "person"),
        ("tram", "vehicle"),
        ("loaf", "food"),
    ]:
        assert kinds[noun] == kind, noun
    assert len(attribute_lexicon()) >= 1000


def test_every_kind_in_the_noun_tables_is_a_kind():
    # noun_kinds() is typed dict[str, Kind]: the shipped tables must hold to it
    assert set(noun_kinds().values()) <= set(get_args(Kind))


def test_scene_model_reads_kind_body_setting_time_and_weather():
    scene = parse_scene("a sobbing toddler in a kitchen at night")
    assert scene.main.noun == "toddler" and scene.main.kind == "person"
    assert {"face", "legs", "hands", "indoor", "night"} <= scene.facts
    assert scene.time_of_day == "night" and "indoor" in scene.setting
    assert [(a.word, a.expression) for a in scene.attributes] == [("sobbing", True)]
    fish = parse_scene("a goldfish in a bowl")
    assert {"fins", "aquatic", "indoor"} <= fish.facts and "legs" not in fish.facts
    owl = parse_scene("an owl on a branch")
    assert "wings" in owl.facts
    rain = parse_scene("a tram in the rain")
    assert {"rain", "urban", "outdoor"} <= rain.facts
    assert "busy" in parse_scene("a puppy chewing a slipper").facts
    assert "asleep" in parse_scene("a cat asleep on a sofa").facts


def test_place_of_x_is_the_subject_and_containers_show_their_contents():
    assert parse_scene("a field of grass").main.kind == "landscape"
    assert parse_scene("a bowl of fruit").main.kind == "food"


def test_several_subjects_are_kept_in_order_and_owners_are_named():
    scene = parse_scene("a girl with her cat")
    assert [e.noun for e in scene.entities] == ["girl", "cat"]
    graph = load_concept_graph()
    ears = next(c for c in graph.concepts("fear") if c.text.startswith("{poss} tail tucked"))
    assert ears.render(scene).startswith("the cat's tail tucked")
    fists = next(c for c in graph.concepts("anger") if "clenched fists" in c.text)
    assert fists.render(scene).startswith("the girl's clenched fists")
    assert ears.render(parse_scene("a dog")).startswith("tail tucked")  # one subject: no owner


@pytest.mark.parametrize(
    "prompt, phrase",
    [
        ("a campfire at night", "warm late-afternoon sunlight"),
        ("a lighthouse on a sunny coast", "a narrow alley hemmed in by walls"),
        ("a horse in a snowy field", "soft grass and warm wood textures"),
        ("a tram in the rain", "an open meadow under a pale sky"),
        ("a goldfish in a bowl", "gusting wind bending the grass"),
        ("a puppy chewing a slipper", "sniffing at something foul then backing off"),
        ("a chair", "wide eyes and hunched shoulders"),
    ],
)
def test_the_issues_contradictions_are_recognised(prompt, phrase):
    assert contradiction(parse_scene(prompt).facts, phrase) is not None


@pytest.mark.parametrize("prompt", BUILTIN + HARD)
def test_no_candidate_concept_contradicts_its_scene(prompt):
    from emotion_director.evals.scene_metrics import contradictions

    graph = load_concept_graph()
    scene = parse_scene(prompt)
    for emotion in Emotion:
        candidates = graph.candidates(emotion, scene)
        # enough to choose from; the concepts blind readers refused leave excitement the fewest
        # (19 for "a field of grass" after set 44's labels)
        assert len(candidates) >= 18, (prompt, emotion)
        for concept in candidates:
            text = concept.render(scene)
            assert "{" not in text
            assert not contradictions(prompt, f"{prompt}, {text}"), (prompt, text)


def test_space_concepts_do_not_move_a_scene_whose_place_is_stated():
    graph = load_concept_graph()
    scene = parse_scene("a hospital corridor")
    assert not [
        c for c in graph.candidates("contentment", scene) if c.facet == "space" and not c.bound
    ]


@pytest.mark.parametrize(
    "prompt, emotion, expected",
    [
        ("a sobbing toddler", "amusement", "a giggling toddler"),
        ("a snarling wolf", "excitement", "a bounding wolf"),
        ("a crying child", "excitement", "a cheering child"),
    ],
)
def test_conflicting_expressions_are_recast_toward_the_target(prompt, emotion, expected):
    subject, changes, negatives = fit_subject(parse_scene(prompt), prompt, emotion, recast=True)
    assert subject == expected
    assert changes[0].action == "recast" and not negatives


@pytest.mark.parametrize(
    "prompt, emotion",
    [
        ("a sobbing toddler", "amusement"),
        ("fishermen laughing over grilled sardines at a harbour cafe", "anger"),
        ("hotel chambermaids laughing in a service lift", "sadness"),
    ],
)
def test_by_default_the_subjects_expression_stays_and_no_other_face_joins_it(prompt, emotion):
    # blind readers called all 19 recasts they saw a clash ("fishermen laughing" made "fishermen
    # scowling", sets 61, 62, 64)
    scene = parse_scene(prompt)
    subject, changes, negatives = fit_subject(scene, prompt, emotion)
    assert subject == prompt and not changes and not negatives
    faces = [
        c
        for c in load_concept_graph().candidates(emotion, scene)
        if c.facet == "body_language" and "face" in c.needs
    ]
    assert not faces
    # a face of the feeling the expression shows may join it: a grin for laughing women
    laughing = parse_scene("two women laughing while pounding fufu in a wooden mortar")
    assert any("face" in c.needs for c in load_concept_graph().candidates("amusement", laughing))


def test_a_stated_expression_refuses_a_face_of_another_feeling():
    # a couchette attendant yawning got "eyebrows shot up to the hairline" (amusement, set 65);
    # the expression right after its subject is the subject's, not the next noun's
    graph = load_concept_graph()
    attendant = parse_scene("a couchette attendant yawning as she folds grey blankets")
    assert [(a.word, a.owner) for a in attendant.attributes] == [("yawning", "attendant")]
    raised = graph.get("{poss} eyebrows shot up to the hairline")
    assert raised is not None
    assert raised.conflict(attendant) == "the attendant is yawning, as the scene says"
    yelling = graph.get("fisheye close-up of {poss} wide-open yelling mouth")
    assert yelling is not None and yelling.conflict(parse_scene("a cab driver sulking")) is not None
    # no expression stated, or another subject's: the face is free
    assert raised.conflict(parse_scene("a couchette attendant folding blankets")) is None
    snarl = graph.get("{poss} lips pulled back in a snarl")
    assert snarl is not None
    assert snarl.conflict(parse_scene("a terrier on a porch, two cats dozing on the rail")) is None


def test_a_stated_expression_refuses_body_language_of_another_feeling():
    # set 70: "a crying toddler" got "the toddler's long exhale, shoulders loose" (contentment)
    graph = load_concept_graph()
    toddler = parse_scene("A crying toddler clutching a melting mochi on a crowded train platform")
    loose = graph.get("{poss} long exhale, shoulders loose")
    assert loose is not None
    assert loose.conflict(toddler) == "the toddler is crying, as the scene says"
    assert loose.conflict(parse_scene("a toddler on a train platform")) is None
    # body language of a feeling the expression shows still joins
    sad = [c for c in graph.concepts(Emotion.SADNESS) if c.facet == "body_language"]
    assert any(c.face_conflict(toddler) is None for c in sad)


def test_a_machine_named_like_a_trade_has_no_face():
    # set 70: "a pile driver hammering steel sheets" got "the driver's wide open-mouthed grin"
    driver = parse_scene("A pile driver hammering steel sheets into a Hamburg riverbank at dawn")
    assert driver.main is not None and driver.main.kind == "object"
    assert "face" not in driver.facts
    assert parse_scene("a bus driver at the wheel").main.kind == "person"
    assert parse_scene("a dart thrower at the oche").main.kind == "person"  # people too


def test_crowd_body_language_is_not_the_subject_s_face():
    graph = load_concept_graph()
    hushed = graph.get("a crowd standing hushed with faces turned upward")
    assert hushed is not None
    scene = parse_scene("a laughing child on a city street as a crowd watches the solar eclipse")
    assert hushed.conflict(scene) is None


def test_set_71_readings():
    # a time right before a rain is its modifier: the rain has passed ("drizzle hanging in the
    # air" joined a garden "after morning rain")
    garden = parse_scene(
        "a market gardener hoeing lettuce rows in a walled garden after morning rain"
    )
    assert "passed_storm" in garden.facts and "rain" not in garden.facts
    assert "storm" in parse_scene("a fox on a lawn after midnight as a storm rolls in").facts
    # a cloudy morning is overcast (it got bright sunshine with a lens flare)
    assert "overcast" in parse_scene("a shoe shiner in a Quito plaza on a cloudy morning").facts
    assert "overcast" not in parse_scene("a glass of cloudy water on a table").facts
    # seen from orbit is in space
    hurricane = parse_scene("Seen from orbit, a hurricane's eye swirling over the Caribbean")
    assert "orbit" in hurricane.facts
    # ice crystals are outdoors, flying sweat is awake
    graph = load_concept_graph()
    ice = graph.get("ice crystals sparkling like diamonds")
    kitchen = parse_scene(
        "two grandmothers stretching dough in a farmhouse kitchen on a snowy morning"
    )
    assert ice is not None and ice.conflict(kitchen) is not None
    sweat = graph.get("sweat droplets flying off")
    asleep = parse_scene("a herder's son asleep on horseback on a summer pasture at dusk")
    assert sweat is not None and sweat.conflict(asleep) is not None


def test_set_65_readings():
    # a bright part of the day is sunny ("flat overcast light" on a bright February afternoon)
    crew = parse_scene("a crew drilling test holes in the sea ice on a bright February afternoon")
    assert {"sunny", "clear"} <= crew.facts
    assert "sunny" not in parse_scene("a bright yellow raincoat on a rainy day").facts
    # gouache is a medium, not the thing the camera looks down on
    hammer = parse_scene("Gouache of a Sheffield steam hammer pounding a glowing ingot at night")
    assert hammer.entities[0].noun == "hammer"


def test_conflicting_states_move_to_the_negative_prompt_and_descriptions_stay():
    subject, changes, negatives = fit_subject(
        parse_scene("a rotting apple"), "a rotting apple", "excitement"
    )
    assert subject == "an apple" and negatives == ["rotting"]
    assert changes[0].action == "negative" and "rotting" in changes[0].reason
    gloomy = fit_subject(parse_scene("a gloomy old house"), "a gloomy old house", "amusement")
    assert gloomy[0] == "an old house" and gloomy[2] == ["gloomy"]
    same = "a young woman in a dark forest"
    assert fit_subject(parse_scene(same), same, "sadness")[0] == same
    assert fit_subject(parse_scene("a sobbing toddler"), "a sobbing toddler", "sadness")[1] == []


def test_long_prompts_are_condensed_keeping_the_subject():
    prompt = (
        "An elderly fisherman with a weathered face and a thick grey beard sits on an "
        "upturned wooden crate on a busy harbour pier, mending a tangled orange net, "
        "surrounded by stacked lobster traps, coiled ropes, seagulls perched on posts and "
        "small painted boats bobbing in the water behind him"
    )
    subject, changes, _ = fit_subject(parse_scene(prompt), prompt, "amusement")
    assert estimate_clip_tokens(subject) <= 40
    assert "fisherman" in subject
    assert changes and all(c.action == "condensed" for c in changes)


@pytest.mark.parametrize(
    "prompt",
    [
        "un chien qui joue dans le jardin",
        "ein Hund im Park",
        "犬が公園で遊んでいる",
        "un perro en la playa",
    ],
)
def test_non_english_prompts_are_detected(prompt):
    scene = parse_scene(prompt)
    assert not scene.english and scene.language_note
    assert fit_subject(scene, prompt, "awe")[0] == prompt  # kept intact


@pytest.mark.parametrize("prompt", BUILTIN + HARD)
def test_english_prompts_are_not_flagged(prompt):
    assert parse_scene(prompt).english


def test_a_blue_sky_or_washing_on_the_line_contradicts_rain():
    rain = parse_scene("a tram in the rain").facts
    assert contradiction(rain, "a windless blue sky with a few wisps of cloud") is not None
    assert contradiction(rain, "washing drying on a line") is not None
    assert contradiction(rain, "a soft drizzle seen from a dry porch") is None


# ----- events, owners and states (read off real rewrites) ----------------------------------
def test_an_event_brings_its_people_and_postures_are_theirs_not_the_events():
    # seen: "a funeral, mouth slightly open, eyes lifted"; "a clown nose on the funeral"
    scene = parse_scene("a funeral")
    assert [(e.noun, e.kind, e.implied) for e in scene.entities] == [
        ("funeral", "event", False),
        ("mourners", "group", True),
    ]
    graph = load_concept_graph()
    rendered = [c.render(scene) for e in Emotion for c in graph.candidates(e, scene)]
    assert not any(t.endswith("on the funeral") or "the funeral's" in t for t in rendered)
    posture = [
        c
        for c in graph.candidates("contentment", scene)
        if c.facet == "body_language" and not c.bound and "face" in c.needs
    ]
    assert posture and all(c.render(scene).startswith("the mourners") for c in posture)


def test_an_event_with_people_named_adds_no_others():
    assert [e.noun for e in parse_scene("a bride at a wedding").entities] == ["bride", "wedding"]


def test_a_posture_names_its_owner_when_it_is_not_the_first_subject():
    graph = load_concept_graph()
    scene = parse_scene("a lighthouse and a dog")
    postures = [
        c
        for e in Emotion
        for c in graph.candidates(e, scene)
        if c.facet == "body_language" and c.needs & {"face", "fur", "legs", "ears"}
    ]
    assert any(not c.bound for c in postures)  # unbound ones too ("curled up asleep ...")
    assert all(c.render(scene).startswith("the dog") for c in postures), [
        c.render(scene) for c in postures if not c.render(scene).startswith("the dog")
    ][:3]


def test_plural_owners_take_a_plain_apostrophe():
    scene = parse_scene("a funeral")
    assert scene.entities[1].possessive() == "the mourners'"
    assert parse_scene("a cat").entities[0].possessive() == "the cat's"


def test_at_a_circus_is_inside_the_tent():
    assert "indoor" in parse_scene("a clown at a circus").facts
    assert "outdoor" in parse_scene("a dog at a church").facts


@pytest.mark.parametrize(
    "prompt,phrase",
    [
        ("a sleeping cat", "lip curled, nose wrinkled at the smell"),
        ("a tram in the rain", "bright flat light with crisp little shadows"),
        ("a thunderstorm over a village", "a still clear evening with a light breeze"),
        ("firefighters at a burning house", "curled up asleep with eyes softly closed"),
        ("a dog chewing a slipper", "curled up asleep with eyes softly closed"),
        ("a rollercoaster at night", "woods at the blue hour"),
    ],
)
def test_contradictions_seen_in_rewrites_are_caught(prompt, phrase):
    assert contradiction(parse_scene(prompt).facts, phrase)


def test_a_stated_place_is_not_moved_elsewhere():
    # seen: "a cat on a sofa" + "a long empty hospital corridor"
    graph = load_concept_graph()
    for prompt in ("a cat on a sofa", "a ballet performance"):
        scene = parse_scene(prompt)
        spaces = [
            c
            for e in Emotion
            for c in graph.candidates(e, scene)
            if c.facet == "space" and not c.bound
        ]
        assert spaces == [], (prompt, [c.text for c in spaces][:3])


def test_a_burning_house_is_not_kept_for_contentment():
    scene = parse_scene("firefighters at a burning house")
    text, adjustments, negatives = fit_subject(
        scene, "firefighters at a burning house", "contentment"
    )
    assert text == "firefighters at a house" and negatives == ["burning"]
    assert (
        fit_subject(scene, "firefighters at a burning house", "fear")[0]
        == "firefighters at a burning house"
    )


def test_acronyms_and_emotion_words_do_not_make_a_prompt_foreign():
    # seen: "I love NY" read as "only 1 of 3 words are known English words"
    assert parse_scene("I love NY").english
    assert not parse_scene("ein Kind schreibt an die Tafel").english
    assert not parse_scene("el perro en la playa").english


@pytest.mark.parametrize(
    "prompt",
    [
        # seen in held-out sets: read as foreign, so nothing of the scene was parsed and a swarm
        # of blowflies joined a flooded cave
        "tuk-tuk stalled in knee-deep floodwater on a Bangkok side street during the monsoon",
        "Ines, a cave diver, threading a guideline through a flooded limestone passage beneath "
        "the Yucatán jungle.",
        "A night watchman hears footsteps echo through an empty shipyard warehouse in Gdańsk "
        "during a winter storm.",
        "A row of vintage Citroën 2CVs parked along a cobbled street in Lyon after a summer "
        "rainstorm.",
        "Tabular iceberg drifting past a research icebreaker in polar summer twilight",
    ],
)
def test_inflections_compounds_and_accented_names_are_english(prompt):
    scene = parse_scene(prompt)
    assert scene.english, scene.language_note
    assert scene.entities


@pytest.mark.parametrize(
    "prompt",
    [
        "une vieille femme assise sur un banc au bord de la mer",
        "le chat dort sur le rebord de la fenêtre pendant la pluie",
        "eine alte Frau sitzt auf einer Bank am Meer",
        "die Katze schläft auf dem Fensterbrett während es regnet",
        "ein Bäcker backt Brot in einer alten Backstube bei Kerzenlicht",
        "una anciana sentada en un banco junto al mar",
        "il gatto dorme sul davanzale mentre piove",
        "o gato dorme na janela enquanto chove",
        "een hond speelt in het park",
        "de kat slaapt op de vensterbank terwijl het regent",
        "en gammal kvinna sitter på en bänk vid havet",
        "stara kobieta siedzi na ławce nad morzem",
        "seorang wanita tua duduk di bangku dekat laut",
        "yaşlı bir kadın deniz kenarında bankta oturuyor",
    ],
)
def test_other_latin_languages_stay_foreign(prompt):
    # the English reading of inflections and compounds must not make these English
    assert not parse_scene(prompt).english


def test_a_ballet_is_an_event_with_dancers_not_a_person():
    scene = parse_scene("a ballet")
    assert [(e.noun, e.kind) for e in scene.entities] == [("ballet", "event"), ("dancers", "group")]


def test_a_fire_is_lit_and_coloured_but_wears_nothing_and_has_no_face():
    # seen: "a campfire at night" -> amusement got "the campfire with a tiny top hat on" and
    # -> disgust "a slug trail glistening across the campfire"
    from emotion_director.knowledge.concept_graph import VisualConcept

    scene = parse_scene("a campfire at night")
    assert [(e.noun, e.kind) for e in scene.entities] == [("campfire", "fire")]
    assert {"fire", "night", "outdoor"} <= scene.facts and "object" not in scene.facts

    def concept(text, needs=""):
        return VisualConcept(
            text=text,
            facet="object",
            needs=frozenset(needs.split()),
            appraisal="a",
            emotion="amusement",
        )

    assert not concept("{the} wearing a knitted bobble hat", "object").fits(scene)
    assert not concept("googly eyes on {the}", "face").fits(scene)
    sparks = concept("sparks from {the} rising into the dark")
    assert (
        sparks.fits(scene)
        and sparks.render(scene) == "sparks from the campfire rising into the dark"
    )


@pytest.mark.parametrize(
    ("prompt", "places"),
    [
        ("a campfire at night", []),
        ("a kitchen at noon", []),
        ("a dog in the morning", []),
        ("a cat on a mat at night", ["mat"]),
        ("a house on fire", []),
    ],
)
def test_times_of_day_and_being_on_fire_are_facts_not_places_or_subjects(prompt, places):
    scene = parse_scene(prompt)
    assert [e.noun for e in scene.places] == places
    assert len(scene.entities) == 1


# ----- morning vs evening, the dark, crowds, places (read off real rewrites) -------------------
@pytest.mark.parametrize(
    "prompt, phrase, contradicts",
    [
        # seen: "a mountain summit at sunrise" + "the last light fading from the sky"
        ("a mountain summit at sunrise", "the last light fading from the sky", True),
        ("a mountain summit at sunrise", "warm late-afternoon sunlight", True),
        ("a beach at sunset", "low mist catching the first light of dawn", True),
        ("a lake in the morning", "dusk light fading across the water", True),
        ("a mountain summit at sunrise", "low mist catching the first light of dawn", False),
        ("a beach at sunset", "the last light fading from the sky", False),
        # twilight, the blue hour and a low sun fit either end of the day
        ("a mountain summit at sunrise", "soft twilight glow", False),
        ("a beach at sunset", "dim blue hour light", False),
        ("a lake in the morning", "the low sun backlighting the grass", False),
        # day and night stay opposed
        ("a campfire at night", "pale wintry sun low on the horizon", True),
        ("a street at noon", "dusk light fading", True),
    ],
)
def test_morning_and_evening_exclude_each_other(prompt, phrase, contradicts):
    assert (contradiction(parse_scene(prompt).facts, phrase) is not None) is contradicts


def test_twilight_alone_fits_a_sunrise_and_a_sunset():
    dawn, dusk = parse_scene("a field at sunrise"), parse_scene("a field at sunset")
    assert {"twilight", "morning"} <= dawn.facts and "evening" not in dawn.facts
    assert {"twilight", "evening"} <= dusk.facts and "morning" not in dusk.facts
    assert "evening" in contradiction(dawn.facts, "sunset glow on the rooftops")
    assert (
        contradiction(parse_scene("a field at twilight").facts, "the first light of dawn") is None
    )


@pytest.mark.parametrize(
    "prompt, phrase, contradicts",
    [
        # seen: "a mountain summit at sunrise" + "a porch light left burning in the dark"
        ("a mountain summit at sunrise", "a porch light left burning in the dark", True),
        ("a street at noon", "a blinking red light in the dark", True),
        (
            "a lighthouse on a sunny coast",
            "the lighthouse small and off-centre in empty darkness",
            True,
        ),
        # indoors the dark is a drawn curtain or a basement, not the night
        ("a kitchen at noon", "a blinking red light in the dark", False),
        ("a basement at noon", "a single bulb swinging in the dark", False),
        ("a house at noon", "cold light from a television in the dark in the living room", False),
        # no daylight stated, or a night scene: the dark is fine
        ("a campfire at night", "sparks rising into the dark", False),
        ("an old barn", "a porch light left burning in the dark", False),
        ("a street at dusk", "a porch light left burning in the dark", False),
    ],
)
def test_in_the_dark_outdoors_contradicts_a_stated_daytime(prompt, phrase, contradicts):
    assert (contradiction(parse_scene(prompt).facts, phrase) is not None) is contradicts


@pytest.mark.parametrize(
    "prompt, phrase, contradicts",
    [
        # seen: "a mountain summit at sunrise" + "the summit sharp amid blurred passers-by"
        ("a mountain summit at sunrise", "the summit sharp amid blurred passers-by", True),
        ("a deer in a dense forest", "commuters hurrying past", True),
        ("a kitchen at noon", "the kitchen sharp amid blurred passers-by", True),
        ("a girl in her bedroom", "a crowd of raised phones and open mouths", True),
        ("a hospital corridor", "the corridor sharp amid blurred passers-by", False),
        ("a tram in the rain", "commuters hurrying past", False),
        ("a girl with her dog on a beach", "a crowd throwing hats into the air", False),
        # the prompt itself puts people there
        ("a crowd of hikers on a mountain summit", "spectators cheering", False),
    ],
)
def test_crowds_need_a_public_place(prompt, phrase, contradicts):
    assert (contradiction(parse_scene(prompt).facts, phrase) is not None) is contradicts


@pytest.mark.parametrize(
    "prompt, phrase, contradicts",
    [
        # seen: "a clown at a circus" + a hallway, "a thunderstorm over a village" + an ice cave
        ("a clown at a circus", "dim light from a hallway door left ajar", True),
        ("a clown at a circus", "a fridge light spilling over the clown", True),
        ("a clown at a circus", "distant long shot through a window", True),
        ("a thunderstorm over a village", "blue light filtering through a vast ice cave", True),
        ("a hospital corridor", "a mammoth skeleton looming in a museum hall", True),
        ("a kitchen at noon", "a stained bathroom's dim mirror light", True),
        ("a cozy fireplace", "sweeping stage beams catching the fireplace", True),
        # a place that is part of the stated one, or a framing device found anywhere
        ("a hospital corridor", "dim light from a hallway door left ajar", False),
        ("a clown at a circus", "sweeping stage beams catching the clown", False),
        ("a cat on a sofa", "sunlight warming the kitchen tiles", False),
        ("a clown at a circus", "a centred figure framed by a massive archway", False),
        ("a thunderstorm over a village", "frame within a frame through a broken window", False),
        # a place seen in the distance is a view, not where the scene is
        ("a thunderstorm over a village", "snow-capped mountains on the horizon", False),
        ("a mountain summit at sunrise", "a shaft of light through a cave opening", False),
    ],
)
def test_a_phrase_set_in_another_place_contradicts_a_stated_place(prompt, phrase, contradicts):
    assert (contradiction(parse_scene(prompt).facts, phrase) is not None) is contradicts


def test_places_fit_when_one_is_part_of_the_other():
    from emotion_director.knowledge.scene import sites_compatible

    assert sites_compatible("kitchen", "home") and sites_compatible("home", "kitchen")
    assert sites_compatible("porch", "village")  # transitively: a porch of a house in a village
    assert not sites_compatible("kitchen", "bathroom")  # two rooms of one house
    assert not sites_compatible("meadow", "porch") and not sites_compatible("cave", "village")
    # a hospital corridor is in a hospital: a museum hall fits "corridor" but not "hospital"
    scene = parse_scene("a hospital corridor")
    assert {"site:hospital", "site:hallway"} <= scene.facts


@pytest.mark.parametrize(
    ("prompt", "phrase", "contradicts"),
    [
        # seen on the embedded default: a horse got "jumping for a frisbee", "tail wagging"
        ("a horse in a snowy field", "jumping for a frisbee, twisting mid-air", True),
        ("a horse in a snowy field", "tail wagging so hard the body wiggles", True),
        ("a dog in a park", "jumping for a frisbee, twisting mid-air", False),
        ("a horse in a field", "hooves throwing up clods of earth", False),
        ("a cat on a sofa", "a play bow, front paws down", False),
        ("a horse in a stable", "a cat batting at a ball with one paw", False),  # the cat's paw
        # an owl on a branch is perched; another bird may fly
        ("an owl on a branch", "soaring high above the clouds", True),
        ("an owl on a branch", "wings spread wide, hovering on the updraft", True),
        ("an eagle over a canyon", "soaring high above the clouds", False),
        ("a cat on a sofa", "a bird soaring past the window", False),
        # weather and time words that were missing
        ("a tram in the rain", "the tram left behind, covered in dust", True),
        ("a dusty road at noon", "the road covered in dust", False),
        ("a campfire at night", "a sun shower with a rainbow arching overhead", True),
        ("a campfire at night", "rainbow-striped accents everywhere", False),  # a pattern, no sky
        ("a tram in the rain", "a giant full moon rising", True),
        ("a graveyard at night", "a giant full moon rising", False),
    ],
)
def test_body_plan_perching_and_weather_words(prompt, phrase, contradicts):
    assert (contradiction(parse_scene(prompt).facts, phrase) is not None) is contradicts


def test_a_horse_has_hooves_and_size_a_dog_has_paws():
    horse, dog = parse_scene("a horse").facts, parse_scene("a dog").facts
    assert {"hooves", "large"} <= horse and "paws" not in horse
    assert "paws" in dog and not {"hooves", "large"} & dog


@pytest.mark.parametrize(
    ("prompt", "phrase", "contradicts"),
    [
        # read off simulated rewrites of held-out scenes
        ("a horse in a snowy field", "slowly sniffing the flowers", True),
        ("a horse in a snowy field", "flattened in the long grass", True),
        ("a campfire at night", "an open meadow under a pale sky", True),
        ("a lighthouse on a sunny coast", "a low black sky pressing down", True),
        ("a kitchen at noon", "cotton sheets crumpled in sunlight", True),
        ("a tram in the rain", "the tram parked under a shady tree", True),
        ("a bedroom at night", "the empty side of the bed", False),
        ("a hospital ward", "a bedside lamp", False),
        ("a deer in a meadow in spring", "slowly sniffing the flowers", False),
    ],
)
def test_bedrooms_flowers_and_sky_colours(prompt, phrase, contradicts):
    assert (contradiction(parse_scene(prompt).facts, phrase) is not None) is contradicts


@pytest.mark.parametrize(
    ("prompt", "phrase", "contradicts"),
    [
        # over-blocking found by red-teaming the scene model: none of these contradicts
        ("a man on a bench", "taking off his hat", False),
        ("a girl on a swing", "a kite flying overhead", False),
        ("a goldfish in a bowl", "gliding through the water", False),
        ("an eagle above a pine tree", "in flight", False),
        ("a child in a bedroom at night", "light spilling in from the hallway", False),
        ("a cat in the KITCHEN", "Hallway Light", False),
        ("a grandmother in her living room", "a stained-glass lamp glowing", False),
        ("a busker on a street corner", "warm stage lights", False),
        ("a woman in a kitchen", "jungle green and gold palette", False),
        ("a sun bear in a zoo", "moonlight", False),
        ("a tram in the rain", "dusty windows", False),
        ("a dog in a park", "the dog resting its chin on one paw", False),
        # under-blocking found the same way
        ("an owl on a branch", "banking hard across the sky", True),
        ("a horse in a paddock", "the horse resting its chin on one paw", True),
        ("a woman in a sun hat at night", "warm afternoon sunlight", True),
        ("a parade at night with a rainbow flag", "bright sunlight on the marchers", True),
        ("a city skyline tonight", "harsh midday sun", True),
        ("a snowy field at dawn", "the sun setting behind the hills", True),
        ("a tram in the rain", "wheels kicking up dust", True),
        ("a horse in a field", "crouched and about to pounce", True),
        # seen on the embedded default: "a snarling wolf" -> contentment "grazing slowly"
        ("a snarling wolf", "grazing slowly with its head down", True),
        ("a cow in a field", "grazing slowly with its head down", False),
        ("a mountain summit at sunrise", "cold low light grazing the peaks", False),
        # seen: "a still clear evening" beside "soft overcast light with no harsh shadows"
        ("a dog on a clear evening", "soft overcast light with no harsh shadows", True),
        ("a tram in the rain", "low grey cloud over the rooftops", False),
        # a field is a place; depth of field is a lens setting that fits a kitchen
        ("a horse in a snowy field", "on a grey empty beach", True),
        ("a horse in a snowy field", "an open meadow", False),
        ("a kitchen at noon", "shallow depth of field with creamy bokeh", False),
        # seen in a simulated rewrite: dunes under a blazing sun in a snowy field
        ("a horse in a snowy field", "blazing noon sun and sharp shadows on red dunes", True),
        ("a camel in the desert", "blazing noon sun and sharp shadows on red dunes", False),
        ("an owl on a branch at night", "towering cumulus clouds filling the sky", True),
    ],
)
def test_red_team_pairs(prompt, phrase, contradicts):
    assert (contradiction(parse_scene(prompt).facts, phrase) is not None) is contradicts


@pytest.mark.parametrize(
    "prompt, target, kept",
    [
        ("a child flying a kite on a windy beach in autumn", "amusement", "flying"),
        ("birds flying south over a lake", "contentment", "flying"),
        ("a man burning leaves in a garden", "awe", "burning"),
    ],
)
def test_a_stated_action_is_never_moved_out_of_the_scene(prompt, target, kept):
    """A verb the prompt states of its subject is what happens, not a mood: the lexicon's
    emotion for it ('flying' -> fear) must not cut it ("a child a kite")."""
    fitted, adjustments, negatives = fit_subject(parse_scene(prompt), prompt, target)
    assert fitted == prompt and kept not in negatives and not adjustments


@pytest.mark.parametrize(
    ("prompt", "target"),
    [
        ("a comic book on a desk", "sadness"),  # a WordNet two-word noun
        ("a happy hour crowd in a bar", "sadness"),
        ("a canal narrowboat moored beneath weeping willows", "amusement"),
        # a feeling of WordNet's own before a noun names a kind of it
        ("a horror film poster on a wall", "contentment"),
        ("a panic room in a mansion", "awe"),
        ("a love letter on a desk", "anger"),
        ("a fear of heights", "awe"),  # the thing itself (it was "an of heights")
        # the shape that cut the scene's own nouns out (sets 1-94, 27 scenes of 4,164)
        ("a laundress wringing sheets through a mangle in a steamy washhouse", "amusement"),
        ("a water buffalo resting neck-deep in a muddy wallow under the noon sun", "amusement"),
        ("an okapi wearing a paper party hat at a drizzly autumn village fete", "anger"),
    ],
)
def test_an_emotion_word_that_names_the_thing_stays(prompt, target):
    """Moved to the negative prompt, "a comic book on a desk" became "a book on a desk" and a
    mangle left "through an in a steamy washhouse": such words name what a thing is."""
    fitted, adjustments, negatives = fit_subject(parse_scene(prompt), prompt, target)
    assert fitted == prompt and not negatives and not adjustments


@pytest.mark.parametrize(
    ("prompt", "target", "fitted", "moved"),
    [
        # a feeling is no thing's name, noun or not (a review: "rage" stayed, out of the negatives)
        ("a man full of rage in a bar", "contentment", "a man in a bar", "rage"),
        ("a fun birthday party in a garden", "sadness", "a birthday party in a garden", "fun"),
        # a WordNet two-word noun whose head alone is a person is said of the person
        ("a mournful widow at a grave", "amusement", "a widow at a grave", "mournful"),
    ],
)
def test_a_feeling_still_moves_to_the_negative_prompt(prompt, target, fitted, moved):
    subject, _, negatives = fit_subject(parse_scene(prompt), prompt, target)
    assert subject == fitted and negatives == [moved]


def test_a_mood_the_user_gave_a_thing_still_moves():
    fitted, _, negatives = fit_subject(
        parse_scene("a comic actor on stage"), "a comic actor on stage", "sadness"
    )
    assert fitted == "an actor on stage" and negatives == ["comic"]
    fitted, _, negatives = fit_subject(parse_scene("a happy dog"), "a happy dog", "anger")
    assert fitted == "a dog" and negatives == ["happy"]


def test_a_mood_word_before_its_noun_still_moves():
    fitted, _, negatives = fit_subject(
        parse_scene("a rotting apple"), "a rotting apple", "excitement"
    )
    assert fitted == "an apple" and negatives == ["rotting"]


def test_an_event_that_only_dates_another_subject_brings_no_people():
    # seen: "a ventriloquist's dummy slumped on a dressing room stool after the show" ->
    # "the performers' cross-eyed stare at a fly on the nose", with no performer in the scene
    scene = parse_scene("a ventriloquist's dummy slumped on a dressing room stool after the show")
    assert not any(e.implied for e in scene.entities)
    assert parse_scene("a funeral in the rain").entities[-1].implied  # the event itself: its people


@pytest.mark.parametrize(
    "scene, noun",
    [
        ("an organ grinder packing up in an empty fairground under drizzle", "grinder"),
        ("an organ-grinder in the rain", "organ-grinder"),
        ("a furious toll collector shouting at a jammed barrier", "collector"),
        ("a rat catcher in a dripping sewer tunnel with a lantern", "catcher"),
    ],
)
def test_a_two_word_noun_takes_its_kind_from_wordnet_not_from_its_head(scene, noun):
    # seen: the organ grinder was food ("a faded photograph propped against the grinder"),
    # the toll collector and the rat catcher things with no face
    main = parse_scene(scene).main
    assert (main.noun, main.kind) == (noun, "person")
    assert "face" in main.facts


@pytest.mark.parametrize(
    "scene, noun",
    [
        # seen (held-out sets 6-8): "the basket with one place set and no one at it" for a basket
        # weaver, "a boot print stamped across the conductor" for a tram conductor
        ("a basket weaver finishing a tiny cradle on a cottage doorstep", "weaver"),
        ("a rat catcher in a dripping sewer", "catcher"),
    ],
)
def test_an_agent_noun_after_a_noun_is_who_does_the_work(scene, noun):
    main = parse_scene(scene).main
    assert (main.noun, main.kind) == (noun, "person")


@pytest.mark.parametrize(
    "scene",
    [
        # a review of the agent rule: devices named like their users
        "a laser printer on a desk",
        "a bluetooth speaker on a shelf",
        "a lightning conductor on a church spire",
        "a coat hanger on a hook",
        "a vegetable peeler on the counter",
        "a heart monitor beeping",
        "a lighthouse on lake superior",
    ],
)
def test_a_device_named_like_its_user_is_no_person(scene):
    assert all(e.kind != "person" for e in parse_scene(scene).entities)


def test_an_agent_noun_keeps_an_animal_or_a_hull():
    # a living kind from the tables wins ("badger" is also a Wisconsinite to WordNet), and a word
    # with a vessel sense is no agent ("trawler": a boat, or who trawls)
    assert parse_scene("a honey badger savaging a tin bin").main.kind == "mammal"
    assert parse_scene("a shrimp trawler in a harbour").main.kind != "person"
    assert parse_scene("a kitchen drawer full of string").main.kind != "person"
    assert parse_scene("a bird feeder in the snow").main.kind != "person"


@pytest.mark.parametrize(
    "word, kind",
    [
        ("kitesurfer", "person"),
        ("lockkeeper", "person"),
        # an agent noun after what it works on (set 89: "a buttermaker paddles fresh butter"
        # was butter, with no person in the scene)
        ("buttermaker", "person"),
        ("cheesemakers", "person"),
        # a room for something, in one word (set 91: a puppy asleep in a mudroom got drizzle)
        ("mudroom", "room"),
        ("bunkrooms", "room"),
        # or for what is done in it (set 102: "a sunny sittingroom" was outdoors, with sky)
        ("sittingroom", "room"),
        ("diningroom", "room"),
    ],
)
def test_a_closed_compound_takes_the_kind_of_its_living_last_part(word, kind):
    assert kind_of(word) == kind


def test_a_verb_form_is_no_closed_compound_and_a_bank_of_fog_no_building():
    assert kind_of("outflanked") is None and kind_of("blocking") is None
    # (a review: a one-word building rule made "a fogbank" indoors and "warfare" a building)
    assert kind_of("fogbank") is None and kind_of("warfare") is None


@pytest.mark.parametrize(
    "scene",
    [
        "a lone gricer standing in a vast barn as steam fills the roof beams",
        "a gricer in a barn",
        "a lone gricer standing in a vast cathedral",
        # set 107: "aerial view from high above" for a tedder in a collapsed haybarn
        "a rusted gricer abandoned in a collapsed barn",
    ],
)
def test_where_a_subject_no_table_knows_is_reads_as_where_a_known_one_is(scene):
    # the noun no table knows is read as the subject after the places were read: what follows
    # its preposition is still where it is, as for "a man standing in a barn"
    parsed = parse_scene(scene)
    assert parsed.main.noun == "gricer"
    assert "indoor" in parsed.facts and "outdoor" not in parsed.facts


def test_a_hyphened_building_or_room_is_one():
    # set 90: "a cramped counting-house while a thunderstorm rattles the shutters" was outdoors
    # (the storm's), and got "a sparse horizontal frame with a low horizon"
    assert kind_of("counting-house") == "building" and kind_of("dressing-room") == "room"
    scene = parse_scene(
        "A scrivener copying a will by candlelight in a cramped counting-house while a "
        "thunderstorm rattles the shutters"
    )
    assert "indoor" in scene.facts and "outdoor" not in scene.facts


def test_a_closed_compound_needs_two_known_words_and_a_living_head():
    assert kind_of("laundromat") is None  # "laundro" is no word
    assert kind_of("blocking") is None  # a verb form: no "bloc" + "king"
    assert kind_of("xyzwqmaker") is None


def test_a_noun_of_several_kinds_takes_the_kind_that_dominates_its_use():
    # wordnet_senses.tsv: a dish holds food 9 times in 12 tagged uses; the table never makes
    # people or groups (a review: "a tennis court" was a group, "a pitcher of lemonade" a person)
    assert kind_of("dish") == "object"
    assert parse_scene("a tennis court at dusk").main.kind != "group"
    assert parse_scene("a pitcher of lemonade on a porch").main.kind != "person"


def test_a_compound_only_counts_where_both_words_are_written_together():
    # "wet blanket" is a person to WordNet, but its first word is no noun: not taken
    assert parse_scene("a wet blanket on a washing line").main.kind != "person"
    # "sea lion" is not taken either (no fish compounds): a sea lion on a pier is not under water
    assert "submerged" not in parse_scene("a sea lion on a pier").facts
    assert parse_scene("an organ in a cathedral").main.kind != "person"


@pytest.mark.parametrize(
    "scene, has, lacks",
    [
        # seen: "ears drooping" on a harp seal pup, "paws tucked under" on an elephant being
        # bathed, "the glow of a tablet screen lighting up its whiskers" on an armadillo
        ("a harp seal pup alone on a thawing ice floe", {"fur"}, {"ears", "paws"}),
        ("a mahout bathing an elephant in a shallow river", set(), {"paws", "fur"}),
        ("an armadillo in a tiny knitted scarf", {"paws"}, {"fur"}),
        ("a baboon tearing apart a backpack", {"hands", "fur", "tail"}, {"paws"}),
        # seen (set 11): "tail lashing" on a silverback gorilla; apes have no tail
        ("a silverback gorilla beating its chest", {"hands", "fur"}, {"paws", "tail"}),
        ("a gibbon swinging through the canopy", {"hands"}, {"tail"}),
        ("a tapir sniffing a stack of melons", {"hooves"}, {"paws"}),
        ("a dog in a park", {"paws", "fur", "ears"}, set()),  # the kind's plan, unchanged
    ],
)
def test_a_mammal_has_the_body_of_its_wordnet_family(scene, has, lacks):
    animal = next(e for e in parse_scene(scene).entities if e.kind == "mammal")
    assert has <= animal.facts and not lacks & animal.facts


@pytest.mark.parametrize(
    "scene, has, lacks",
    [
        # set 35: "a pair of oversized sunglasses perched on its face" on a jellyfish
        ("jellyfish glowing in a dark aquarium", {"aquatic"}, {"face", "fins"}),
        ("a starfish on wet sand at low tide", {"aquatic"}, {"face", "fins", "legs"}),
        ("a goldfish in a bowl", {"face", "fins"}, set()),  # the kind's plan, unchanged
    ],
)
def test_an_animal_of_another_kind_has_the_body_of_its_wordnet_family(scene, has, lacks):
    animal = parse_scene(scene).main
    assert has <= animal.facts and not lacks & animal.facts


def test_a_posture_needs_the_body_part_it_names():
    graph = load_concept_graph()
    seal = parse_scene("a harp seal pup alone on a thawing ice floe in grey fog")
    drooping = graph.get("{poss} ears drooping, eyes looking up from under the brow")
    assert drooping.conflict(seal, anchored=False) is not None
    assert drooping.conflict(parse_scene("a puppy alone in the rain"), anchored=False) is None


@pytest.mark.parametrize(
    "scene, fact",
    [
        # seen: "sunny morning light bouncing off white walls" on "a drizzly spring morning"
        ("a chimney sweep stuck halfway up a chimney during a drizzly spring morning", "rain"),
        ("a sleety afternoon at a bus stop", "snowing"),
        ("a dusky harbour", "twilight"),
        ("a thundery afternoon over the fields", "storm"),
        ("a gusty pier", "windy"),
    ],
)
def test_a_weather_or_time_word_written_as_an_adjective_states_its_fact(scene, fact):
    assert fact in parse_scene(scene).facts


@pytest.mark.parametrize(
    "scene",
    ["whipped cream on a cake", "a movie star", "an even floor", "a storming crowd", "a heavy bag"],
)
def test_other_words_that_share_a_stem_state_no_weather(scene):
    facts = parse_scene(scene).facts
    assert not facts & {"rain", "storm", "fog", "snowing", "winter", "windy", "night", "twilight"}


def test_water_said_frozen_is_ice_whatever_follows_it():
    # seen: "a surface of water like polished glass" over "a frozen fjord beneath the northern
    # lights"
    scene = "a giant airship drifting over a frozen fjord beneath the northern lights in midwinter"
    assert "icebound" in parse_scene(scene).facts
    assert "icebound" not in parse_scene("a frozen pizza on a lake shore").facts


@pytest.mark.parametrize(
    "prompt, emotion",
    [
        # seen on held-out sets: the rewriter dropped "muddy", "deserted" and "scorching" from
        # the user's scene (and put them in the negative prompt), so the picture lost them
        ("a sidecar motorbike racing along a muddy cliff road in a sleety gale", "excitement"),
        ("a tapir riding a rusty tricycle around a deserted roller rink at midnight", "amusement"),
        ("camel jockeys thundering past a dusty souk under the scorching noon sun", "excitement"),
    ],
)
def test_a_word_that_shows_what_the_scene_is_like_stays_whatever_it_feels_like(prompt, emotion):
    subject, changes, negatives = fit_subject(parse_scene(prompt), prompt, emotion)
    assert subject == prompt and changes == [] and negatives == []


def test_where_an_action_goes_is_not_what_it_works_on():
    for scene in ("a girl walking to the bus", "a dog running toward the ball"):
        assert not any(e.handled for e in parse_scene(scene).entities), scene
    assert not any(e.handled for e in parse_scene("a girl staring out the window").entities)


def test_compounds_with_a_living_head_and_plural_compounds():
    assert parse_scene("a night owl on a branch").main.kind == "bird"  # not WordNet's person
    assert parse_scene("two organ grinders in the square").main.kind == "person"


def test_water_that_only_names_a_thing_is_not_frozen_water():
    assert "icebound" not in parse_scene("a frozen water bottle on the desk").facts
    assert "icebound" not in parse_scene("a frozen lake house in the hills").facts
    assert "icebound" in parse_scene("a frozen lake at dawn").facts


def test_a_noun_after_no_is_absent_from_the_picture():
    # seen (held-out set 9): "the customers' tears tracking down a cheek" for "a knife grinder
    # pushing his cart through a deserted suburb with no customers"
    scene = parse_scene(
        "a knife grinder pushing his cart through a deserted suburb with no customers"
    )
    assert "customers" not in {e.noun for e in scene.entities}
    assert "bread" not in {e.noun for e in parse_scene("a bakery without bread").entities}


def test_an_ing_word_between_a_noun_and_a_preposition_is_what_it_does():
    # seen (held-out set 9): "the humming's head tucked under a wing" for "a dovecote in a quince
    # orchard humming with doves"
    nouns = {e.noun for e in parse_scene("a quince orchard humming with doves").entities}
    assert "humming" not in nouns and "doves" in nouns
    assert parse_scene("a building with a red door").main.noun == "building"
    assert parse_scene("a bread pudding with custard").main.noun == "pudding"


def test_an_agent_noun_overrides_a_guessed_place_but_not_a_guessed_thing():
    # lexicon.tsv guessed a pastor a building; a printer, a warbler or a
    # juicer must not turn into people
    assert kind_of("pastor") == "person"
    assert kind_of("printer") == "object" and kind_of("warbler") == "bird"
    assert kind_of("juicer") != "person"


@pytest.mark.parametrize(
    "scene, fact",
    [
        ("a takin on a rain-lashed Bhutanese mountainside at dusk", "rain"),
        ("a trawler on a storm-tossed sea", "storm"),
        ("a castle on a mist-shrouded hill", "fog"),
        ("a yard of sleet-streaked windows", "snowing"),
    ],
)
def test_a_weather_word_before_a_participle_states_the_weather(scene, fact):
    # seen (held-out set 9): "hot orange sunset glare" on a rain-lashed mountainside
    assert fact in parse_scene(scene).facts
    assert "rain" not in parse_scene("a hand-painted sign on a well-known street").facts


def test_morning_light_is_not_afternoon_light():
    # seen (sets 6-8): "sunny morning light bouncing off white walls" on a muggy August
    # afternoon, "afternoon sun resting on the ropemaker" on a mild spring morning
    def clash(scene, phrase):
        return contradiction(parse_scene(scene).facts, phrase)

    assert clash("a sign painter on a muggy August afternoon", "sunny morning light")
    assert clash("a ropemaker on a mild spring morning", "afternoon sun on the rope")
    # noon is neither: every such pair blind readers saw (7 of 7, sets 1-41) was a clash
    assert clash("a farmer at noon", "afternoon sun on the barn")
    assert clash("a farmer at noon", "sunny morning light")
    assert not clash("a farmer in the afternoon", "afternoon sun on the barn")


def test_a_compound_before_a_possessive_is_one_noun_and_names_no_setting():
    # seen (sets 6-8): "a swinging bare light bulb" and "the window seen through the gap of a
    # half-open door" for "a window cleaner's cradle swinging loose off a skyscraper"
    scene = parse_scene("a window cleaner's cradle swinging loose off a skyscraper in a gale")
    assert scene.main.noun == "cradle"
    assert "indoor" not in scene.facts
    assert "indoor" in parse_scene("a cat by the window at dusk").facts


@pytest.mark.parametrize(
    "scene, head",
    [
        # a review: -ing nouns must stay nouns
        ("a cave painting", "painting"),
        ("a rock painting in the desert", "painting"),
        ("a stair landing", "landing"),
    ],
)
def test_an_ing_noun_stays_a_noun(scene, head):
    assert parse_scene(scene).main.noun == head


@pytest.mark.parametrize(
    "scene, absent",
    [
        ("a ship without a sail", "sail"),
        ("a house without a roof", "roof"),
        ("a bakery with no hungry customers", "customers"),
    ],
)
def test_a_noun_after_no_and_its_modifiers_is_absent(scene, absent):
    assert absent not in {e.noun for e in parse_scene(scene).entities}


def test_absent_things_state_no_setting():
    assert "indoor" not in parse_scene("a man with no home on a bench").facts


def test_a_participle_states_weather_only():
    # a review: "a moon-shaped pendant" stated night, "a snow-capped peak in summer" winter
    assert "night" not in parse_scene("a moon-shaped pendant on a chain").facts
    assert "winter" not in parse_scene("a snow-capped peak in summer").facts


def test_a_lake_is_not_the_sea():
    assert "sea" not in parse_scene("a jetty on a quiet lake").facts
    assert "sea" not in parse_scene("a marina on lake geneva").facts
    assert "sea" not in parse_scene("a bay window").facts
    assert "sea" in parse_scene("a fishing boat in a harbour").facts


def test_a_night_said_to_have_no_moon_has_no_moonlight():
    for scene in ("a moonless night with no moon", "a field at night without a moon"):
        assert contradiction(parse_scene(scene).facts, "cold moonlight"), scene


def test_a_screaming_child_uses_its_voice():
    assert "vocal" in parse_scene("a screaming child in a supermarket").facts


def test_the_wind_howling_is_no_voice():
    assert "vocal" not in parse_scene("a window cleaner during a howling autumn gale").facts
    assert "vocal" in parse_scene("a wolf howls at the moon").facts


def test_a_moonless_night_has_no_moonlight():
    # seen (sets 6-8): "cold moonlight and deep black shadows" for wolves circling a sheepfold
    # on a frosty moonless night
    facts = parse_scene("wolves circling a sheepfold on a frosty moonless night").facts
    assert contradiction(facts, "cold moonlight and deep black shadows")
    assert not contradiction(facts, "a lantern glowing in the dark")
    assert not contradiction(parse_scene("wolves on a frosty night").facts, "cold moonlight")


def test_a_dried_up_water_has_no_water():
    # seen (held-out set 9): "a grey sea under a grey sky" and "a lone boat tied at an empty
    # jetty" for a flamingo in a dried-up soda lake
    facts = parse_scene("a lone flamingo standing in a dried-up soda lake at noon").facts
    assert "water" not in facts and "dry" in facts
    assert "water" in parse_scene("a heron by a lake at dawn").facts


@pytest.mark.parametrize(
    "scene, label",
    [
        # seen (set 11): "the lion's wide open-mouthed grin" on a sea lion
        ("a sea lion sprawled across the bow of a lobster skiff", "the sea lion"),
        ("two sea lions barking on a pier", "the sea lions"),
        ("an organ grinder in a square", "the organ grinder"),
        ("a red fox in the snow", "the fox"),  # a modifier that makes no name stays out
    ],
)
def test_a_concept_names_its_owner_by_the_two_word_name_the_tables_know(scene, label):
    assert parse_scene(scene).main.label() == label


def test_a_nose_or_lips_need_a_mammal_face():
    # seen on held-out set 12 (after its measurement): "wrinkled nose and curled upper lip" on
    # a marabou stork; a bird's face has a beak, not a nose or lips
    from emotion_director.knowledge.concept_graph import load_concept_graph

    sneer = load_concept_graph().get("{poss} wrinkled nose and curled upper lip")
    assert "lips" in sneer.needs
    assert sneer.conflict(parse_scene("a marabou stork picking through a landfill heap"))
    assert sneer.conflict(parse_scene("a dog sniffing a bin")) is None
    both = parse_scene("a stork and a farmer in a field")
    assert sneer.render(both).startswith("the farmer's")


@pytest.mark.parametrize(
    "text, city",
    [
        ("a tractor on a country road", False),
        ("a truck on a desert highway", False),
        ("a rural vet whose headlights die on a deserted moorland road at midnight", False),
        ("a passenger train crossing a timber trestle over a flooded gorge", False),
        ("a farm building in the snow", False),
        ("a car in a city street", True),
        ("a taxi at night", True),
        ("a train at a station", True),
    ],
)
def test_a_road_a_vehicle_or_a_building_is_no_town(text, city):
    # set 12/13: "the attendant boxed in by tall buildings" on a motorway bridge, "the vet hemmed
    # in at the bottom of a narrow alley" on a moorland road: every road and car was urban
    from emotion_director.knowledge.scene import parse_scene

    assert ("city" in parse_scene(text).stated) is city


# ----- words written as names -----------------------------------------------------------------
@pytest.mark.parametrize(
    "text,name",
    [
        ("a taxi driver shouting from his yellow Chevrolet Impala in gridlock", "impala"),
        ("a rally driver launching a red Ford Puma over a muddy crest", "puma"),
        ("a rusty VW Beetle in the rain", "beetle"),
        ("a clown in a battered Fiat Panda in a narrow lane", "panda"),
        ("the towering hull of the Queen Mary at dusk", "mary"),
    ],
)
def test_a_run_of_names_that_no_english_word_opens_is_a_thing(text, name):
    scene = parse_scene(text)
    kinds = {e.noun: e.kind for e in [*scene.entities, *scene.places]}
    assert kinds[name] == "thing", kinds
    assert not scene.facts & {"animal", "fur", "tail", "paws", "hooves"}, sorted(scene.facts)
    assert "queen" not in kinds  # a name's first word modifies it


def test_a_capitalised_word_of_no_living_kind_is_a_name():
    scene = parse_scene("a vintage car on a country road in Burgundy past a vineyard in Champagne")
    places = {p.noun: p.kind for p in scene.places}
    assert places["burgundy"] == "thing" and places["champagne"] == "thing", places


@pytest.mark.parametrize(
    "text,noun,kind",
    [
        ("Jaguar stalking through the jungle at night", "jaguar", "mammal"),  # starts the text
        ("A Jaguar Stalking Through The Jungle", "jaguar", "mammal"),  # title case: no signal
        ("A Fox and a Hound in the Snow", "hound", "mammal"),  # title case, small words lower
        ("a dog running on Bondi Beach", "beach", "landscape"),  # a named place is a place
        ("the fields at dusk. Foxes play by the hedge", "foxes", "mammal"),  # a new sentence
        ("a forest at dawn\nWolves on the ridge", "wolves", "mammal"),  # a new line
        ("3 Dogs on a beach", "dogs", "mammal"),  # after a number
        ("a Majestic Lion on a rock", "lion", "mammal"),  # capitals for emphasis
        ("a Cat sleeping on a Sofa", "cat", "mammal"),
        ("a Golden Retriever on a lawn", "retriever", "mammal"),  # a breed: English words
        ("a dented vintage Jaguar in a garage", "jaguar", "mammal"),  # one word: no telling
    ],
)
def test_capitals_that_say_nothing_of_a_name_keep_the_kind(text, noun, kind):
    scene = parse_scene(text)
    kinds = {e.noun: e.kind for e in [*scene.entities, *scene.places]}
    assert kinds.get(noun) == kind, kinds


@pytest.mark.parametrize(
    "text", ["the dog I'm walking in the park", "a wolf howling, Cinematic lighting"]
)
def test_no_name_from_i_or_a_tag_after_a_comma(text):
    scene = parse_scene(text)
    assert all(e.kind != "thing" for e in scene.entities), scene.entities


def test_name_positions_skip_acronyms_and_sentence_starts():
    text = 'NASA engineers near a Ford truck. Dogs bark; "Rex" sleeps'
    words = [m.group() for m in __import__("re").finditer(r"[^\W\d_]+", text)]
    assert {words[i] for i in name_positions(text)} == {"Ford"}


@pytest.mark.parametrize(
    "text,verb",
    [
        ("a cyclist by a lake as mist lifts", "lifts"),
        ("a trainer in a field as snow falls outside", "falls"),
        ("a potter at her wheel while the kettle boils", "boils"),
    ],
)
def test_the_verb_of_a_clause_a_conjunction_opens_names_no_place(text, verb):
    scene = parse_scene(text)
    assert verb not in {e.noun for e in [*scene.entities, *scene.places]}
    assert "indoor" not in scene.facts  # "lifts" was a lift, a room; "falls" a waterfall


@pytest.mark.parametrize(
    "text,noun",
    [
        ("a girl dressed as a fairy princess", "princess"),
        ("a chef cooking while wearing a hat", "hat"),
        ("a once proud ship in a harbour", "ship"),
    ],
)
def test_other_uses_of_as_while_and_once_keep_their_nouns(text, noun):
    scene = parse_scene(text)
    assert noun in {e.noun for e in [*scene.entities, *scene.places]}


def test_the_same_word_as_a_noun_stays_a_place():
    scene = parse_scene("a hiker at the falls at dawn")
    assert "falls" in {p.noun for p in scene.places}


@pytest.mark.parametrize(
    "text,verb,kept",
    [
        ("a locomotive in a railway yard as crows perch along its chimney", "perch", "crows"),
        ("a diver in a cave as bubbles rise", "rise", "diver"),
        ("a seal pup on the rocks as sea lions bask nearby", "bask", "lions"),
    ],
)
def test_a_clause_verb_of_any_form_names_nothing_and_its_subject_stays(text, verb, kept):
    scene = parse_scene(text)
    nouns = {e.noun for e in [*scene.entities, *scene.places]}
    assert verb not in nouns and kept in nouns, nouns


def test_snow_on_the_ground_joins_a_scene_with_snow_not_any_winter_scene():
    from emotion_director.knowledge.setting import concept_settings, stated_tags, unanchored

    needs = concept_settings()["hard low sun throwing long blue shadows across fresh snow"]
    assert "snowy" in needs
    winter = parse_scene("a surfer dropping into a towering wave on a bright winter morning")
    snowy = parse_scene("a fox trotting across a snowy field on a bright winter morning")
    assert unanchored(needs, stated_tags(winter.facts)) is not None  # winter, but no snow
    assert unanchored(needs, stated_tags(snowy.facts)) is None


@pytest.mark.parametrize(
    "text,target", [("a night porter dozing behind a desk", "disgust"), ("a dozing cat", "fear")]
)
def test_what_the_subject_is_doing_is_not_recast(text, target):
    new, adjustments, negatives = fit_subject(parse_scene(text), text, target)
    assert new == text and not adjustments and not negatives


def test_an_expression_is_still_recast_on_request():
    scene = parse_scene("a sobbing toddler")
    assert fit_subject(scene, "a sobbing toddler", "amusement", recast=True)[0] == (
        "a giggling toddler"
    )


@pytest.mark.parametrize(
    "scene, main",
    [
        # present tense, as users write (held-out set 21: "the hovers", "the naps", "the drift")
        ("A diver hovers beside a giant manta ray above a coral reef", "diver"),
        ("a cat sleeps on a sofa", "cat"),
        ("A cat naps on a warm radiator", "cat"),
        ("A pastry chef gets dusted head to toe when a flour sack bursts", "chef"),
        ("A rusted fishing boat lies stranded on the cracked bed of the Aral Sea", "boat"),
        ("A storm chaser's pickup truck races toward a tornado", "truck"),
        # an unknown noun before a verb that WordNet knows; a plural noun before a verb that a
        # preposition or a determiner follows (held-out set 22: "the kicks", "the block")
        ("A freediver kicks toward a spinning bait ball of sardines", "freediver"),
        ("Rally cars skid through a muddy forest stage", "cars"),
        ("Striking dockworkers block a container gate with burning pallets", "dockworkers"),
        ("Astronauts drift in the cupola of an orbiting space station", "astronauts"),
        ("Kitesurfers launch off cresting waves at Tarifa under a blazing sun", "kitesurfers"),
        ("A rally car slides sideways through a snowy forest bend", "car"),
        # an -ing noun that a determiner or an -ly adverb follows is a verb, and a weather
        # word is a noun before its verb (held-out set 24: "the building", "the rolls")
        ("two kids building a snow fort in a backyard in Minnesota at dusk", "kids"),
        ("an elderly couple dancing slowly in their kitchen", "couple"),
        ("a family wedding in a barn", "wedding"),
        # ... and so is one a preposition follows, when it is a verb's -ing (held-out set 34:
        # "the drinking glistening with a film of grease" for a hummingbird)
        ("watercolor of a hummingbird drinking from a red flower", "hummingbird"),
        ("two okapis drinking from a muddy stream in the rainforest", "okapis"),
        ("An elderly couple dancing in their living room", "couple"),
        ("a baby duckling in a pond", "duckling"),
        ("a chicken dumpling on a plate", "dumpling"),
        ("A sandstorm rolls toward a camel caravan crossing the dunes", "caravan"),
        # an irregular plural and a hyphenated noun (held-out set 23: "the perch", "the tap")
        ("Stilt fishermen perch on wooden poles in the surf at dawn", "fishermen"),
        ("Aye-ayes tap on dead branches with their long fingers in a forest at night", "aye-ayes"),
        # and what agreement must leave alone
        ("an arms dealer in a bar", "dealer"),
        ("customs officers at a border post", "officers"),
        ("a sports car on a coast road", "car"),
        ("a chef's knives on a board", "knives"),
        ("a lighthouse keeper climbing spiral stairs", "keeper"),
        ("a bookbinder stitching spines in a quiet library", "bookbinder"),
    ],
)
def test_a_present_tense_verb_is_not_the_subject(scene, main):
    assert parse_scene(scene).main.noun == main


@pytest.mark.parametrize(
    "scene, thing",
    [
        ("A cooper fitting iron hoops onto an oak barrel", "hoops"),
        ("A retired couple tends tomato plants in a rooftop allotment", "plants"),
        ("a basket weaver plaiting willow rods on a porch", "rods"),
    ],
)
def test_a_plural_object_after_a_verb_stays_a_noun(scene, thing):
    assert thing in [e.noun for e in parse_scene(scene).entities]


@pytest.mark.parametrize(
    "scene, noun, kind",
    [
        ("a pair of fennec foxes napping in the shade of an oasis", "pair of foxes", "mammal"),
        ("a line of ducklings following a bewildered driver", "line of ducklings", "bird"),
        ("a team of Siberian huskies pulling a dogsled", "team of huskies", "mammal"),
        ("a troupe of snow monkeys soaking in a hot spring", "troupe of monkeys", "mammal"),
        # a participle before a noun is part of the kind's name (set 41: "the pair of great")
        ("a pair of great crested grebes dancing on a reservoir", "pair of grebes", "bird"),
        ("a flock of spotted doves pecking at grain", "flock of doves", "bird"),
        # what "of" leaves alone: places, buildings, parts, depictions, living things, names
        ("a field of grass at dawn", "field of grass", "landscape"),
        ("a statue of a horse in a square", "statue", "object"),
        ("the cracked neck of a milk bottle on a shelf", "bottle", "object"),
        ("a greenhouse of tomato vines at noon", "greenhouse", "building"),
        ("a smokejumper leaping from the open door of a plane", "smokejumper", "thing"),
        ("the towering hull of the Queen Mary gliding beneath a bridge", "hull", "vehicle"),
    ],
)
def test_a_count_or_a_group_of_things_is_those_things(scene, noun, kind):
    main = parse_scene(scene).main
    assert (main.noun, main.kind) == (noun, kind)


@pytest.mark.parametrize(
    "scene, main",
    [
        ("a Venetian water-taxi driver shaking his fist at a cruise ship", "driver"),
        ("an African grey parrot heckling a barbershop quartet", "parrot"),
        ("the Saturn V rocket rising from the launch pad", "rocket"),
        ("A vast carved chapel inside the salt mine", "chapel"),
        ("mouldy wedding cake swarming with flies on a lawn", "cake"),
        # a name that ends its phrase is the thing
        ("a vintage Citroen parked on a country road", "citroen"),
        # ... and one before a noun no table knows styles it (set 47: "over-the-shoulder shot
        # squaring up to the japanese")
        ("a Japanese salaryman asleep standing up on a packed Yamanote Line train", "salaryman"),
        ("a Peruvian huaquero digging at dusk", "huaquero"),
    ],
)
def test_a_name_or_an_adjective_before_a_noun_modifies_it(scene, main):
    assert parse_scene(scene).main.noun == main


def test_the_wordnet_word_tables_hold_what_they_say():
    from emotion_director.knowledge.scene import adjectives, verbs

    assert {"skid", "drift", "block", "kick", "wriggle"} <= verbs()
    assert not {"officer", "line", "field", "car", "dealer"} & verbs()
    assert {"vast", "mouldy", "ornate"} <= adjectives()
    assert not {"giant", "blue", "dog", "run"} & adjectives()


@pytest.mark.parametrize(
    "scene, asleep",
    [
        ("a dozing watchman in a booth at night", True),
        ("a lighthouse keeper asleep in his chair", True),
        ("two lions sleeping under an acacia", True),
        # another's sleep leaves the subject's eyes open
        ("A fisherman mending nets aboard a moored trawler, gulls dozing on the rail", False),
        ("a freediver hovering among a pod of sperm whales sleeping upright", False),
        # "asleep" stands after whom it describes, never before a noun (set 67: "an old man
        # asleep mouth-open" was read as the mouth's sleep, and got raised eyebrows)
        ("An old man asleep mouth-open in a deckchair on Blackpool beach", True),
        ("a man asleep, mouth open, in a deckchair", True),
        ("a nurse watching a sleeping patient", False),
    ],
)
def test_sleep_is_the_subject_s_only_when_it_describes_the_subject(scene, asleep):
    assert ("asleep" in parse_scene(scene).facts) is asleep


def test_irregular_and_hyphenated_nouns_are_read():
    from emotion_director.knowledge.scene import kind_of, singular

    assert singular("fishermen") == "fisherman" and singular("abdomen") == "abdomen"
    assert kind_of("fishermen") == "person" and kind_of("sous-chef") == "person"
    assert kind_of("water-taxi") is None  # a taxi is no living thing: its kind is not guessed


@pytest.mark.parametrize(
    "scene, label, possessive",
    [
        # a name in apposition names the noun after it (set 25: "the maria", "the okafor")
        ("Maria, a street vendor in Mexico City, flipping tortillas", "the vendor", "the vendor's"),
        ("Mr. Okafor, a piano tuner, working alone in a concert hall", "the piano tuner", None),
        # a count's body is its members' ("the caravan of camels' fur" read as the caravan's)
        ("A caravan of camels crossing the dunes", "the caravan of camels", "the camels'"),
    ],
)
def test_names_and_counts_are_labelled_as_a_reader_would(scene, label, possessive):
    main = parse_scene(scene).main
    assert main.label() == label
    assert possessive is None or main.possessive() == possessive


def test_a_name_with_of_is_no_count():
    # set 25: "the day of altar bursting toward the lens"
    assert " of " not in parse_scene("A Day of the Dead altar heaped with marigolds").main.noun


@pytest.mark.parametrize(
    "scene, main",
    [
        # a count's verb ends the count (review: "the crowd of marches", "the cup of steams")
        ("a crowd of protesters marches down a street", "crowd of protesters"),
        ("a flock of sheep blocks a mountain road", "flock of sheep"),
        ("a cup of coffee steams beside a laptop", "cup of coffee"),
        ("a swarm of bees attacks a hiker", "swarm of bees"),
        # what counts nothing keeps its own noun (WordNet: no group, measure or container)
        ("the corpse of a soldier in a trench", "corpse"),
        ("the wheel of a bicycle in the mud", "wheel"),
        ("a bust of a roman emperor in a museum", "bust"),
        # a plural before a place's name after "the" is a compound, not a subject and its verb
        ("the farmers market in the town square", "market"),
        ("the goods train in the snow", "train"),
        ("the sports bar at night", "bar"),
        # a name before its verb names the subject, not a modifier of the object
        ("a dog called Rex chases rabbits across a field", "dog"),
    ],
)
def test_review_cases_read_as_a_reader_would(scene, main):
    assert parse_scene(scene).main.noun == main


def test_hyphenated_words_take_a_living_kind_only_from_a_noun_before_them():
    from emotion_director.knowledge.scene import kind_of

    assert kind_of("x-ray") is None and kind_of("hot-dog") is None
    assert kind_of("sous-chef") == "person"


def test_sleep_before_a_noun_is_that_noun_s():
    # review: the patient sleeps, not the nurse; a sleeper no table knows still sleeps
    assert "asleep" not in parse_scene("a nurse watching a sleeping patient").facts
    facts = parse_scene("a sleeping quokka on a log").facts
    assert {"asleep", "busy"} <= facts


def test_a_long_run_of_nouns_is_read_in_linear_time():
    # review: _agrees_as_verb asked itself about every word before, for every word
    words = "stone wall garden gate house roof tile door frame glass window pane".split() * 3
    parse_scene(" ".join(words))  # 36 words: seconds before the cache, milliseconds now


@pytest.mark.parametrize(
    "scene, busy, asleep",
    [
        # the present tense states what the subject does, as an -ing form does (set 26: "a
        # night-shift baker slides trays into the oven" got "head resting on folded arms")
        ("Kenji, a night-shift baker, slides trays of melon bread into the oven", True, False),
        ("A retired glassblower sips tea on her porch swing", True, False),
        ("a cat sleeps on a sofa", True, True),
        ("a cat naps on a warm radiator", True, True),
        ("a quiet harbour at dawn", False, False),
        # a pronoun's verb is what the subject does (set 68: two women "laughing as they thresh
        # barley" got "dozing with the women's head on a grandparent's lap")
        ("Two Ladakhi women laughing as they thresh barley on a rooftop", True, False),
        ("a mahjong player shouting as he slams down a tile", True, False),
        ("two women on a rooftop though they are tired", False, False),  # a helper verb
        # a pronoun's sleep is sleep; staying still, seeming or the viewer's drive is no activity
        ("an old couple on a bench as they sleep in the sun", True, True),
        ("a fisherman on the pier as he waits for the tide", False, False),
        ("an old woman on a porch where she rests in the evening sun", False, False),
        ("a cat on a wall while we drive past", False, False),
        # a verb that ends in -ing is still a verb (set 73: two postal workers who "wring out
        # their caps" got "clutching an old photograph")
        ("Two soaked postal workers wring out their caps under a bus stop awning", True, False),
    ],
)
def test_the_present_tense_states_what_the_subject_does(scene, busy, asleep):
    facts = parse_scene(scene).facts
    assert ("busy" in facts, "asleep" in facts) == (busy, asleep)


def test_a_determiner_is_no_verb():
    # "a boy named Tomas flies a kite" read "a" as the verb of "flies" (the insects)
    assert "a" not in parse_scene("A boy named Tomas flies a homemade kite on a hill").actions


def test_a_verb_s_base_form_before_an_agent_noun_is_a_modifier():
    # set 69: "a candy floss seller" was read as candy that flosses, and "the candy" got the
    # high-angle shot; a clause's verb after "a NOUN" would take -s
    main = parse_scene("A candy floss seller spinning pink sugar at a seaside fair").main
    assert (main.noun, main.kind) == ("seller", "person")
    assert parse_scene("a man and a woman walk dogs in a park").main.noun == "man"
    # only a verb's agent: an animal or a relative after a verb is its object
    assert parse_scene("a woman sell lobster at a market").main.noun == "woman"
    assert parse_scene("a boy hunt tiger in the jungle").main.noun == "boy"
    assert "daughter" in [
        e.noun for e in parse_scene("a son and a daughter visit mother in hospital").entities
    ]


def test_a_crew_of_a_thing_is_the_crew():
    # set 26: "the crew of ship with speed lines streaking behind it"
    main = parse_scene("The crew of a cargo ship lashes down containers on deck").main
    assert (main.noun, main.kind) == ("crew", "group")


@pytest.mark.parametrize(
    "scene, stationary",
    [
        # readers of sets 26-27: a perched snow leopard got "racing forward mid-stride", a parked
        # motorcycle "crossing a giant suspension bridge"
        ("A snow leopard perched on a rocky ledge in the Himalayas", True),
        ("A vintage motorcycle parked outside a roadside diner", True),
        ("a parked motorcycle outside a diner", True),
        ("a cat sits on the windowsill", True),
        ("a narrowboat moored beneath weeping willows", True),
        ("a barge is moored at the quay", True),
        ("an old man sitting alone on a bench at dusk", True),
        ("a tabby cat asleep on a stack of books", True),  # sleep keeps it in place too
        ("a stalled tram on a snowy boulevard at midnight", True),
        ("a motionless grey heron in the reeds", True),
        ("a parked vintage motorcycle outside a diner", True),
        ("a truck braking hard at a crossing", False),  # coming to a stop is still moving
        # a posture word that is not the subject's own verb
        ("a girl runs past a lemonade stand", False),
        ("a parking valet screaming at a dented car", False),
        ("a goat climbs onto the roof of a car while the farmer sits in the shade", False),
        ("a falcon diving at a pigeon", False),
    ],
)
def test_a_posture_verb_of_the_subject_keeps_it_in_place(scene, stationary):
    assert ("stationary" in parse_scene(scene).facts) is stationary


def test_the_postures_table_holds_wordnet_s_forms_of_staying_put():
    table = postures()
    for form in ("perched", "sat", "lain", "parked", "moored", "kneels", "stalled", "motionless"):
        assert form in table
    # no made-up regular forms where WordNet gives its own, and no gesture or motion verbs
    for form in ("sitted", "sleeped", "catnaped", "nodding", "running", "braking", "still"):
        assert form not in table


@pytest.mark.parametrize(
    "scene, absent, present",
    [
        # a noun that names an animal's kind states no setting ("a snow leopard" in the
        # Himalayas got fresh snow and winter cues)
        ("A snow leopard perched on a rocky ledge", {"snowbound", "winter"}, set()),
        ("a night heron on a branch", {"night"}, set()),
        ("a rain-soaked snow leopard cub", {"snowbound"}, {"rain"}),
        # a person's is kept, and the scene's own words still count
        ("a night watchman in an empty museum", set(), {"night"}),
        ("a fox in the snow at night", set(), {"snowbound", "night"}),
        ("a sewer inspector beneath the city, rats scattering", set(), {"site:city"}),
    ],
)
def test_a_noun_naming_an_animal_s_kind_states_no_setting(scene, absent, present):
    facts = parse_scene(scene).facts
    assert not facts & absent
    assert present <= facts


@pytest.mark.parametrize(
    "scene, verb",
    [
        # set 27: "a crew of road workers pours asphalt" was not busy, and got "hands pressed
        # over the mouth"; "battles" is a verb WordNet uses mostly as a noun
        ("A crew of road workers pours fresh asphalt on a desert highway at noon", "pours"),
        ("A team of firefighters battles a blaze at a timber yard", "battles"),
        ("A herd of elephants bathes in the Zambezi River at midday", "bathes"),
    ],
)
def test_a_count_s_verb_is_what_its_members_do(scene, verb):
    parsed = parse_scene(scene)
    assert verb in parsed.actions
    assert "busy" in parsed.facts
    assert " of " in parsed.main.noun


@pytest.mark.parametrize(
    "scene, noun, kind, underwater",
    [
        # set 27: "the school of silver sporting a painted-on moustache" and a toddler in wellies
        # on the reef: the colour was taken for the head, and the school for a building
        (
            "A school of silver sardines swirls around a coral reef",
            "school of sardines",
            "fish",
            True,
        ),
        ("a school of children on a field trip", "school of children", "group", False),
        ("a house of cards on a kitchen table", "house", "building", False),
    ],
)
def test_a_building_that_counts_animals_is_the_animals(scene, noun, kind, underwater):
    parsed = parse_scene(scene)
    assert (parsed.main.noun, parsed.main.kind) == (noun, kind)
    assert ("submerged" in parsed.facts) is underwater
    assert ("site:school" in parsed.facts) is (noun == "school of children")


@pytest.mark.parametrize(
    "scene, main",
    [
        # set 28: "high-angle shot looking down on the docks" for a capsule docking ("supply"
        # ends in -ly but is no adverb), and "the iron with a faded ribbon tied to it" for a
        # cooper, a noun no table knows
        ("A supply capsule docks with the space station over the Pacific", "capsule"),
        ("A cooper hammers iron hoops onto an oak barrel in a distillery yard", "cooper"),
        # a plural and its participle open a clause whose comma the tokens lose
        ("A fisherman mending nets aboard a moored trawler, gulls dozing on the rail", "fisherman"),
    ],
)
def test_an_s_verb_after_a_singular_subject_is_no_noun(scene, main):
    parsed = parse_scene(scene)
    assert parsed.main.noun == main
    assert not {"docks", "hammers"} & {e.noun for e in parsed.entities}


@pytest.mark.parametrize(
    "plural, one",
    [
        # "Okapis graze along a riverbank" read "the graze": "-is" was kept as a singular
        ("okapis", "okapi"),
        ("gnus", "gnu"),
        ("schoolchildren", "schoolchild"),  # an irregular plural at the end of a compound
        ("dormice", "dormouse"),
        ("iris", "iris"),  # a known word, or no known stem, stays
        ("bus", "bus"),
        ("axis", "axis"),
    ],
)
def test_plurals_of_known_nouns_are_read(plural, one):
    from emotion_director.knowledge.scene import singular

    assert singular(plural) == one


def test_a_plural_ending_in_is_heads_its_scene():
    parsed = parse_scene("Okapis graze along a riverbank in the Ituri rainforest")
    assert (parsed.main.noun, parsed.main.kind) == ("okapis", "mammal")
    assert "graze" in parsed.actions


@pytest.mark.parametrize(
    "weather, stated",
    [
        # set 29: "a jagged mountain ridge" and "harsh red backlight" in a Greenland whiteout
        ("whiteout", {"snow"}),
        ("typhoon", {"storm", "wind"}),
        ("cloudburst", {"rain"}),
        ("mistral", {"wind"}),
        ("squall", {"wind"}),
        ("monsoon", {"rain"}),  # a curated word: the rainy season, not WordNet's wind
    ],
)
def test_weather_nouns_no_list_names_state_their_weather(weather, stated):
    assert stated <= parse_scene(f"a farmer crossing a field during a {weather}").stated


def test_the_weather_table_leaves_nouns_of_other_leading_senses():
    from emotion_director.knowledge.scene.conflicts import _weather_table

    table = _weather_table()
    assert table["typhoon"] == {"storm", "windy"}
    for word in ("flurry", "deluge", "puff", "torrent", "snow", "rain"):
        assert word not in table  # another sense leads, or a curated list names it


@pytest.mark.parametrize(
    "scene, main, stationary",
    [
        # set 30: "Hired to count bats, a wildlife surveyor sits ..." took "hired" for the
        # subject; "Parked beside a Martian dune, the cargo rover ..." took "parked"
        (
            "Hired to count bats, a wildlife surveyor sits at the mouth of a Texas cave",
            "surveyor",
            True,
        ),
        (
            "Parked beside a Martian dune, the cargo rover waits as a dust storm approaches",
            "rover",
            True,
        ),
        (
            "Standing on a swaying bamboo scaffold, a roof tiler replaces cracked tiles",
            "tiler",
            True,
        ),
        (
            "rusting on a windswept pier in late November, an empty fairground carousel",
            "carousel",
            False,
        ),
        ("Evening falls over the harbour, a fox trots along the quay", "fox", False),
    ],
)
def test_an_opening_participle_clause_describes_the_subject_after_its_comma(
    scene, main, stationary
):
    parsed = parse_scene(scene)
    assert parsed.main.noun == main
    assert ("stationary" in parsed.facts) is stationary


def test_a_robot_or_a_rover_is_a_machine_with_no_face():
    # readers of set 33 flagged "the robot's mouth slightly open" and "eyes lifted" on a
    # deep-sea crawler robot read as a person
    for scene in (
        "a deep-sea crawler robot sampling a hydrothermal vent on the Mid-Atlantic Ridge",
        "a Mars rover parked beside a dune",
    ):
        model = parse_scene(scene)
        assert model.main is not None and model.main.kind == "vehicle", scene
        assert not {"face", "lips", "person"} & model.facts, scene
    assert "stationary" in parse_scene("a Mars rover parked beside a dune").facts


@pytest.mark.parametrize(
    "scene, target, kept",
    [
        # a subject's verb with an object is what it does: a recast would leave the object
        # hanging ("an auctioneer smiling bids", seen on set 31)
        ("a tuna auctioneer shouting bids at a fish market", "contentment", "shouting bids"),
        ("a man yelling orders on a ship", "contentment", "yelling orders"),
        # what a thing of the scene is doing is no mood ("a wide pan of paella" lost simmering)
        ("a wide pan of paella simmering over a wood fire", "fear", "paella simmering over"),
    ],
)
def test_a_subjects_verb_with_an_object_or_a_things_own_verb_is_kept(scene, target, kept):
    assert kept in fit_subject(parse_scene(scene), scene, target, recast=True)[0]


@pytest.mark.parametrize(
    "scene, target, recast",
    [
        ("a sobbing toddler", "amusement", "a giggling toddler"),
        ("a woman shouting at a taxi", "contentment", "a woman smiling at a taxi"),
        ("a child crying quietly in the rain", "amusement", "a child giggling quietly"),
        # adverbs not in -ly are no object (a fresh-eyes review found these left unrecast)
        ("a child crying alone in the rain", "amusement", "a child giggling alone"),
        ("a boy laughing hard", "sadness", "a boy weeping hard"),
    ],
)
def test_an_expression_without_an_object_is_still_recast(scene, target, recast):
    assert fit_subject(parse_scene(scene), scene, target, recast=True)[0].startswith(recast)


def test_after_sunset_the_sun_has_gone():
    # "sunlight flashing on droplets" joined a fennec fox digging just after sunset (set 30)
    for scene in ("a fox digging at a dune just after sunset", "a city street after sundown"):
        facts = parse_scene(scene).facts
        assert "twilight" in facts and "day" not in facts, scene
    assert "day" in parse_scene("a fox at sunset").facts  # at sunset the sun is still up


@pytest.mark.parametrize(
    "scene",
    [
        # an entrance or a doorway is an opening, not a room: set 30's wombat "at the entrance of
        # its burrow on a frosty hillside" was read indoors (a whoopee cushion on a chair joined)
        "A wombat dozing at the entrance of its burrow on a frosty hillside at dusk",
        "a tabby cat huddled in the doorway of a boarded-up cinema during a cold winter rain",
    ],
)
def test_an_entrance_or_a_doorway_is_no_room(scene):
    facts = parse_scene(scene).facts
    assert "indoor" not in facts and "room" not in facts


@pytest.mark.parametrize(
    "scene, enclosure",
    [
        # in a building named after a possessive or a hyphenated word: readers of set 31 flagged
        # "a low black sky pressing down" in a ship's cabin
        ("a brass astrolabe on a chart table in a ship's cabin during a storm", "indoor"),
        ("a cat asleep in the captain's cabin at night", "indoor"),
        ("a sheep shearer resting in a corrugated-iron shed in the outback at dusk", "indoor"),
        # a market stall is a small structure (a building), not a room: set 31's night market
        # "steam rising from dozens of food stalls" in heavy rain was read indoors (dust motes)
        (
            "a crowded night market in Taipei during heavy rain, steam rising from food stalls",
            "outdoor",
        ),
        ("a vendor at a market stall in the rain", "outdoor"),
        ("maggots writhing over spoiled tripe in a sweltering market stall", "indoor"),
        ("a horse asleep in its stall", "indoor"),
    ],
)
def test_a_building_one_is_in_is_indoors_one_is_at_is_not(scene, enclosure):
    facts = parse_scene(scene).facts
    assert enclosure in facts and ({"indoor", "outdoor"} - {enclosure}).isdisjoint(facts)


@pytest.mark.parametrize(
    "scene, indoor",
    [
        # a floor alone is a room's: "the forest floor" put a pangolin in Borneo indoors
        ("A pangolin curls into a ball on the forest floor in Borneo.", False),
        ("a crab scuttling across the floor of the sea", False),
        ("a sea cucumber on the ocean floor", False),
        ("a cat asleep on the kitchen floor", True),
        ("A fishmonger hurls a crate across the wet floor of a crowded auction hall", True),
    ],
)
def test_a_floor_is_indoors_only_as_a_rooms(scene, indoor):
    facts = parse_scene(scene).facts
    assert ("indoor" in facts) is indoor
    assert ("outdoor" in facts) is not indoor


@pytest.mark.parametrize(
    "scene, thing, place",
    [
        # set 31: "the surface with a faded ribbon tied to it" on a sunfish under a bay
        (
            "Hovering beneath the surface of a cold blue bay off Bali, a huge ocean sunfish "
            "drifts past a reef wall in the morning light",
            "sunfish",
            "bay",
        ),
        ("The abandoned Mars rover sits at the edge of an ancient crater.", "rover", "crater"),
        ("a hiker at the rim of the canyon at dawn", "hiker", "canyon"),
        (
            "a glowing siphonophore coiling far below the surface of the Atlantic",
            "siphonophore",
            "atlantic",
        ),
        ("In Paris, a cat sleeps on a roof", "cat", "paris"),
    ],
)
def test_a_part_of_a_place_is_the_place(scene, thing, place):
    parsed = parse_scene(scene)
    assert [e.noun for e in parsed.entities] == [thing]
    assert place in [p.noun for p in parsed.places]


@pytest.mark.parametrize(
    "scene, absent",
    [
        ("a stilt village at dusk as the water rises in September", "september"),
        ("a cooper on a humid August afternoon", "august"),
        ("a biplane over sunflower fields in late July", "july"),
        ("a market on a Sunday morning", "sunday"),
    ],
)
def test_months_and_days_are_times_not_things_or_places(scene, absent):
    parsed = parse_scene(scene)
    assert absent not in [e.noun for e in [*parsed.entities, *parsed.places]]


def test_the_subject_of_an_s_verb_after_the_is_the_subject():
    # set 33: "wide lens distortion bulging the waddles toward the camera"
    parsed = parse_scene("The kakapo waddles across mossy ground on a New Zealand island at night")
    assert parsed.entities[0].noun == "kakapo"


def test_a_capitalised_month_is_no_thing_a_lowercase_march_is():
    # set 32: "in late March" was read as a march (an event) beside the narwhal
    narwhal = parse_scene("A narwhal surfacing between ice floes in late March")
    assert [e.noun for e in narwhal.entities] == ["narwhal"]
    assert "march" in [e.noun for e in parse_scene("a protest march in the rain").entities]


def test_the_subject_after_an_opening_clause_may_be_a_noun_no_table_knows():
    # set 32: "extreme low angle with the oilskins towering" for a trawlerman
    scene = parse_scene("Wrapped in oilskins, a trawlerman hauls a net aboard as waves break.")
    assert scene.entities[0].noun == "trawlerman"


@pytest.mark.parametrize(
    "scene, subject",
    [
        # set 33: "soft vignette closing in around the watercolor" for a heron
        ("watercolor of a grey heron standing in a rice paddy at golden hour", "heron"),
        ("oil painting of a Norwegian harbor under heavy snowfall", "harbor"),
        ("close-up of a bee on a sunflower", "bee"),
        ("a portrait of a young woman by a window", "woman"),
    ],
)
def test_what_a_picture_is_made_as_is_not_its_subject(scene, subject):
    assert parse_scene(scene).entities[0].noun == subject


@pytest.mark.parametrize(
    ("scene", "main", "absent"),
    [
        # how the picture is framed, before "of" at its opening, is not its subject (held-out
        # set 34: "worm's-eye view straight up at the close" for "close up of a stack of pancakes")
        ("close up of a stack of blueberry pancakes", "stack of pancakes", "close"),
        ("extreme close up of a bee on a sunflower", "bee", "close"),
        ("cinematic shot of a freight train crossing a desert bridge", "train", "shot"),
        ("aerial view of a fishing boat in a harbour", "boat", "view"),
        ("a macro shot of a bee on a sunflower", "bee", "shot"),
        ("oil painting of a Norwegian harbor under snowfall", "harbor", "painting"),
        # set 35: "the diorama sporting a painted-on moustache" for a diorama of a fire station
        ("isometric diorama of a small fire station on a street corner", "station", "diorama"),
        # set 36: "the portrait's shoulders hunched" for a portrait of a saxophonist
        ("Studio lighting portrait of a saxophonist in a turtleneck", "saxophonist", "portrait"),
        # set 38: "radial symmetry centred on the linocut", "... centred on the overcast"
        (
            "linocut of a cormorant drying its wings on a wooden harbour post",
            "cormorant",
            "linocut",
        ),
        (
            "long exposure of a waterfall in a beech forest on an overcast autumn day",
            "waterfall",
            "overcast",
        ),
        # a picture that is a thing in the scene stays the subject (a fresh-eyes review)
        ("a crumpled photo of a soldier on a kitchen table", "photo", None),
        ("hands holding a photo of a lost dog", "photo", None),
        # set 37: "soft vignette closing in around the exposure", "the painting half-swallowed
        # by darkness"
        ("long exposure of a motorway roundabout at night", "roundabout", "exposure"),
        ("oil painting still life of lemons and a pewter jug", "lemons", "painting"),
        # the opening only: a picture drawn in the scene is a real thing in it
        ("a child drawing a picture of a horse", "child", None),
        # what is counted is the last noun of its phrase: "a loaf of rye bread" is bread
        ("a loaf of rye bread cooling on a windowsill", "loaf of bread", "rye"),
        ("a tabby cat asleep on a stack of library books", "cat", None),
        ("a tray of eclairs flies across a bakery", "tray of eclairs", "flies"),
    ],
)
def test_the_picture_s_frame_and_a_counted_phrase_are_read_for_their_subject(scene, main, absent):
    parsed = parse_scene(scene)
    nouns = [e.noun for e in parsed.entities]
    assert nouns[0] == main, nouns
    if absent is not None:
        assert absent not in nouns
    if scene.startswith("a child drawing"):
        assert "picture" in nouns or "horse" in nouns


def test_a_group_of_a_plural_not_in_s_owns_with_an_apostrophe_s():
    # set 35: "the people' eyes squeezed shut" for a crowd of people at a crossing
    assert parse_scene("crowd of people crossing a street").entities[0].possessive() == (
        "the people's"
    )
    assert parse_scene("a caravan of camels in the desert").main.possessive() == "the camels'"


@pytest.mark.parametrize(
    "scene, action",
    [
        # set 36: a bricklayer "building" read as a noun got "face buried in the hands"
        ("A bricklayer building a curved garden wall with red bricks and mortar.", "building"),
        ("a man painting a fence", "painting"),
        ("teenage skateboarder doing a kickflip at a skatepark", "doing"),
    ],
)
def test_an_ing_noun_before_a_determiner_is_what_the_subject_does(scene, action):
    model = parse_scene(scene)
    assert action in model.actions and "busy" in model.facts


@pytest.mark.parametrize(
    "scene",
    [
        "a woman carrying a painting",
        "a painting of a ship",
        "rats during a summer storm",
        # an event is no verb (a fresh-eyes review)
        "a family wedding this summer in a barn",
    ],
)
def test_an_ing_noun_that_no_determiner_follows_stays_a_noun(scene):
    assert not {"painting", "during", "wedding"} & set(parse_scene(scene).actions)


def test_a_pose_at_rest_is_refused_for_a_bricklayer_at_work():
    from emotion_director.knowledge.concept_graph import load_concept_graph

    pose = load_concept_graph().get("{poss} face buried in the hands")
    assert pose.conflict(parse_scene("A bricklayer building a curved garden wall."))


@pytest.mark.parametrize(
    "scene, underwater",
    [
        # set 37: "a bicycle leaning against a fence" and a low horizon on the reef
        ("a moray eel peering out of a gap in a coral reef", True),
        ("a salmon leaping out of the river", False),
        ("a shark bursting out of the deep blue sea", False),
        ("a trout jumping out of the water at dawn", False),
    ],
)
def test_a_fish_is_under_water_unless_the_prompt_takes_it_out(scene, underwater):
    assert ("submerged" in parse_scene(scene).facts) is underwater


@pytest.mark.parametrize(
    "scene, fact, stated",
    [
        # set 89: "grit and sweat on skin" for an escapologist chained at the bottom of a pool
        (
            "Chained at the bottom of a natatorium's diving pool, an escapologist rehearses",
            "submerged",
            True,
        ),
        ("a coin glinting at the bottom of the pond", "submerged", True),
        ("a climber resting at the bottom of a sea cliff", "submerged", False),  # a review's
        ("a farmhouse at the bottom of a river valley", "submerged", False),
        ("skateboarders at the bottom of an empty swimming pool", "submerged", False),
        ("a trawler on the dry bed of the Aral Sea", "submerged", False),
        # set 88: an aerial view for "an archive deep inside a salt mine"
        (
            "an archivist wheeling a cart through an archive deep inside a salt mine",
            "subterranean",
            True,
        ),
        (
            "an abseiler descending by headlamp into a flooded stope of a tin mine",
            "subterranean",
            True,
        ),
        ("a haul truck descending a ramp in a Chilean open-pit copper mine", "subterranean", False),
        ("a lone mule standing in an abandoned copper mine yard", "subterranean", False),
    ],
)
def test_the_bottom_of_a_water_and_the_inside_of_a_mine(scene, fact, stated):
    assert (fact in parse_scene(scene).facts) is stated


def test_nobody_is_no_subject_and_says_that_no_one_is_there():
    # set 90: "nobody" (a person of no importance to WordNet) was the watermill's subject
    mill = parse_scene("Inside an old watermill, great wooden cogwheels turn slowly, nobody there")
    assert [e.noun for e in mill.entities] == ["cogwheels"]
    assert "alone" in mill.facts and "person" not in mill.facts
    assert "alone" in parse_scene("a beach at dawn, no one around").facts
    # nobody who does something is no empty place (a review)
    assert "alone" not in parse_scene("a busy street market where nobody notices the busker").facts
    assert "alone" not in parse_scene("a crowded subway car, no one smiling").facts
    # and the air is no vehicle ("flour dust hangs in the air": large, a vehicle)
    assert "vehicle" not in parse_scene("a cat inside a barn, smoke hanging in the air").facts


@pytest.mark.parametrize(
    "scene",
    [
        # set 90: "a raised hand blocking half the frame" for a crew member asleep on Skylab
        "Aboard Skylab, a crew member sleeps upright in a wall-mounted sleeping bag",
        "Aboard the ship, a sailor sleeps",
        "Atop the hayloft, a farmhand sleeps",
    ],
)
def test_a_scene_opening_with_where_aboard_or_atop_keeps_its_subjects_sleep(scene):
    parsed = parse_scene(scene)
    assert "asleep" in parsed.facts and parsed.main.kind == "person"


@pytest.mark.parametrize(
    "scene, main",
    [
        # set 91: "soft vignette closing in around the giant" for a giant wooden noria
        ("a giant wooden noria lifting river water in Hama at noon", "noria"),
        ("a giant red balloon over a field", "balloon"),
        ("a baby blue car parked on a hill", "car"),
        # an a- word stands after its noun, and a noun after it starts another phrase
        ("a dog asleep on a rug", "dog"),
        ("an old man asleep mouth-open in a deckchair", "man"),
        ("our toddler asleep face down on the living room rug", "toddler"),
    ],
)
def test_a_noun_before_describing_words_and_their_noun_describes_it(scene, main):
    assert parse_scene(scene).main.noun == main


def test_a_two_word_sea_animal_is_the_animal_not_its_head_noun():
    """WordNet's compounds of any animal kind: "sea urchins" are echinoderms (no face, fins or
    legs), not the street urchins their head noun names; a cnidarian WordNet files under its
    own family is an animal; a person called by an animal's name stays the animal, and a seal
    stays a mammal on its buoy (WordNet files seals as aquatic)."""
    urchins = parse_scene("purple sea urchins in a rock pool at low tide")
    assert [e.kind for e in urchins.entities] == ["fish"]
    assert not urchins.facts & {"face", "fins", "legs", "human", "person"}
    assert parse_scene("a street urchin selling newspapers").entities[0].kind == "person"
    drifting = parse_scene("a glowing siphonophore drifting through the deep sea")
    assert "animate" in drifting.facts and "face" not in drifting.facts
    seal = parse_scene("an old harbor seal dozing on a rusted buoy")
    assert {"fur", "legs"} <= seal.facts and "submerged" not in seal.facts
    assert parse_scene("a night owl on a branch at dusk").entities[0].kind == "bird"


def test_inside_a_thing_that_is_no_room_is_not_indoors():
    """ "inside a foxglove bell" (set 38: firelight on the walls for a bee in a flower) is inside
    a flower; a building, a vehicle or a noun no table knows is entered."""
    assert "indoor" not in parse_scene("a bumblebee crawling inside a foxglove bell").facts
    assert "indoor" not in parse_scene("honeybees building comb inside a hollow oak stump").facts
    assert "indoor" in parse_scene("a girl reading inside a library").facts
    assert "indoor" in parse_scene("a Sami nomad inside a smoky lavvu on a polar night").facts
    assert "indoor" in parse_scene("a dog waiting inside").facts


def test_a_silhouette_of_a_thing_is_a_picture_of_the_thing():
    # set 39: "a clown nose on the silhouette" for "silhouette of a dry-stone waller ..."
    scene = parse_scene("silhouette of a heron on a post at sunset")
    assert [e.noun for e in scene.entities][:1] == ["heron"]
    assert "person" not in scene.facts


def test_inside_as_a_noun_or_a_prefix_states_no_room_and_a_living_head_keeps_its_kind():
    assert "indoor" not in parse_scene("an inside-out umbrella in the rain").facts
    assert "indoor" not in parse_scene("a bee inside of a foxglove flower").facts
    assert "indoor" not in parse_scene("a pearl on the inside of an oyster shell").facts
    # WordNet's animals named after a person or an animal head stay the head ("a race runner"
    # is a lizard to WordNet, "a garden snail" no fish)
    assert parse_scene("a race runner crossing the finish line").entities[0].kind == "person"
    assert "fins" not in parse_scene("a garden snail on a lettuce leaf").facts


@pytest.mark.parametrize(
    ("scene", "target"),
    [
        (
            "telephoto shot of a pronghorn bounding across a sagebrush flat in falling snow",
            "sadness",
        ),
        ("a stoat in its white winter coat bounding across fresh snow in moonlight", "anger"),
        ("macro photo of a jumping spider gripping a fruit fly on a teacup", "contentment"),
        ("kids dancing in the rain", "sadness"),
    ],
)
def test_a_movement_of_the_whole_body_is_never_recast(scene, target):
    # set 40: "a pronghorn bounding across" became "a pronghorn whimpering across"
    from emotion_director.knowledge.scene import fit_subject

    assert fit_subject(parse_scene(scene), scene, target, recast=True)[0] == scene


def test_a_gerund_is_no_living_thing_and_a_participle_may_name_a_kind():
    # set 40: "fishing nets" had a fish's face and fins, "a great crested newt" was "great"
    nets = parse_scene("watercolor painting of fishing nets drying on wooden poles")
    assert not nets.facts & {"animate", "face", "fins"}
    assert "bird" not in parse_scene("a bookbinder at a stove, kettle humming softly").facts
    newt = parse_scene("underwater photo of a great crested newt swimming through pond weed")
    assert [e.noun for e in newt.entities] == ["newt"]
    trawler = parse_scene("A rusted fishing trawler moored at a crumbling pier")
    assert trawler.entities[0].noun == "trawler"


def test_a_silhouette_hides_the_face_and_a_nose_needs_a_face():
    # a demanding user's read: "eyes red-rimmed and downcast" on a heron's silhouette at sunset,
    # "nosing a tiny ball around the water" for sea urchins
    from emotion_director.knowledge.scene import look_conflict, phrase_facts

    heron = parse_scene("silhouette of a heron on a post at sunset")
    assert "silhouette_view" in heron.facts
    assert look_conflict("body_language", "{poss} eyes red-rimmed and downcast", heron.facts)
    assert look_conflict("colour", "colour drained to near monochrome", heron.facts) is None
    assert "silhouette_view" in parse_scene("a man silhouetted against a bright window").facts
    assert "silhouette_view" not in parse_scene("a dog beside the silhouette of a tree").facts
    assert "face" in phrase_facts("nosing a tiny ball around the water")


@pytest.mark.parametrize(
    "prompt",
    [
        "a man skimming slate stones across a flooded quarry on a grey overcast morning",
        "a passenger train crossing a timber trestle over a flooded gorge",
    ],
)
def test_a_place_s_lasting_state_stays_in_the_subject(prompt):
    # a flooded quarry is not a disaster: dropping "flooded" for awe drew a dry pit
    text, adjustments, negatives = fit_subject(parse_scene(prompt), prompt, "awe")
    assert text == prompt and negatives == []


@pytest.mark.parametrize(
    "scene",
    [
        "a cellist busking in a tiled metro passage late at night",
        "a busker in a subway station",
        "a girl waiting on a metro platform",
    ],
)
def test_a_city_s_underground_railway_is_underground(scene):
    # set 41: "cold moonlight and deep black shadows" in a tiled metro passage
    assert "subterranean" in parse_scene(scene).facts


@pytest.mark.parametrize(
    ("scene", "main"),
    [
        # set 42: "the impressionist's shoulders dropped", "squaring up to the faroese"
        (
            "impressionist painting of a Provençal lavender distillery steaming among fields",
            "distillery",
        ),
        ("wildlife photo of a fox in snow", "fox"),
        (
            "oil painting of Faroese turf-roofed boathouses beside a grey harbor in drizzle",
            "boathouses",
        ),
        # a living thing that draws the picture is still the subject
        ("a child drawing a picture of a horse", "child"),
    ],
)
def test_a_style_or_a_people_s_name_before_the_subject_is_not_the_subject(scene, main):
    assert parse_scene(scene).main.noun == main


def test_still_air_of_a_time_of_day_is_no_wind():
    # set 43: "a still clear evening with a light breeze" on a windswept Patagonian steppe
    assert "still" in phrase_facts("a still clear evening with a light breeze")
    assert "still" not in phrase_facts("a heron standing still in the reeds")
    scene = parse_scene("a gaucho herding cattle across a windswept Patagonian steppe at twilight")
    assert contradiction(scene.facts, "a still clear evening with a light breeze")


@pytest.mark.parametrize(
    "scene",
    [
        "a rubber tapper collecting latex from trees on a Malaysian plantation before sunrise",
        "a baker loading loaves into a wood oven in the pre-dawn dark",
    ],
)
def test_before_sunrise_the_sun_is_not_up(scene):
    # set 43: "a windless blue sky" and "soft golden hour glow" for a rubber tapper before sunrise
    facts = parse_scene(scene).facts
    assert "night" in facts and not facts & {"day", "sunny"}
    assert contradiction(facts, "soft golden hour glow")
    assert "day" in parse_scene("a rubber tapper at work at sunrise").facts


@pytest.mark.parametrize(
    ("scene", "main", "kind"),
    [
        # set 43: "an ancient map spread beneath the wax" for a batik maker drawing wax patterns
        ("a Hmong batik maker drawing wax patterns by candlelight", "maker", "person"),
        ("a Hmong weaver at a loom", "weaver", "person"),
        ("a honey badger digging at dusk", "badger", "mammal"),
        ("a red slider in a playground", "slider", "thing"),
    ],
)
def test_an_agent_noun_after_a_noun_no_table_knows_is_who_does_the_work(scene, main, kind):
    entity = parse_scene(scene).main
    assert (entity.noun, entity.kind) == (main, kind)


@pytest.mark.parametrize(
    ("scene", "drawn", "monochrome"),
    [
        (
            "charcoal sketch of a reed boat builder on the shore of Lake Titicaca at noon",
            True,
            True,
        ),
        ("oil painting of a steam traction engine towing a threshing machine", True, False),
        ("watercolor of a hummingbird drinking from a red flower", True, False),
        ("a man painting a fence at noon", False, False),
        ("a boy holding a pencil at a desk", False, False),
        ("35mm film photo of a tram at twilight", False, False),
    ],
)
def test_a_painted_or_drawn_picture_gets_no_photographic_process(scene, drawn, monochrome):
    # sets 39 and 43: "grainy film texture and heavy vignette" on an oil painting and on a
    # charcoal sketch, which also got a colour palette
    facts = parse_scene(scene).facts
    assert ("drawn" in facts, "monochrome" in facts) == (drawn, monochrome)
    grain = look_conflict("texture", "grainy film texture and heavy vignette", facts)
    assert (grain is not None) is drawn
    assert look_conflict("composition", "long lens from far off", facts, preferences=False) is None


def test_glassy_water_is_no_storm():
    # read while checking real outputs: "a surface of water like polished glass" for a fishing
    # fleet returning to harbour in a summer storm
    storm = parse_scene("oil painting of a fishing fleet returning to harbour in a summer storm")
    assert contradiction(storm.facts, "a surface of water like polished glass")
    assert not contradiction(
        parse_scene("a swan on a lake at dawn").facts, "a surface of water like polished glass"
    )


@pytest.mark.parametrize(
    ("scene", "noun", "kind"),
    [
        ("a teddy bear on a bed", "bear", "object"),
        ("a cricket bat leaning against a wall", "bat", "object"),
        ("a rocking horse by the nursery window", "horse", "object"),
        ("a computer mouse beside a keyboard", "mouse", "object"),
        ("an iron horse crossing the plains", "horse", "vehicle"),
        # a name WordNet gives an animal stays one, and so does a bare animal
        ("a snow leopard on a cliff", "leopard", "mammal"),
        ("a prairie dog beside its burrow", "dog", "mammal"),
        ("a bear on a riverbank", "bear", "mammal"),
    ],
)
def test_a_thing_named_after_an_animal_has_no_animal_body(scene, noun, kind):
    # wordnet_compounds.tsv: two-word names WordNet files as a made or eaten thing, whose head
    # is an animal (build_wordnet_kinds._thing_named_after)
    main = parse_scene(scene).main
    assert (main.noun, main.kind) == (noun, kind)
    if kind not in ("mammal", "bird"):
        assert not {"fur", "face", "paws", "wings", "animate"} & main.facts


@pytest.mark.parametrize(
    ("scene", "noun"),
    [
        # wordnet_acts.tsv: an -ing noun that is an act in every WordNet sense is what the noun
        # before it does (set 46: "the curling half-swallowed by darkness")
        ("macro photo of a sundew leaf curling around a trapped damselfly", "leaf"),
        ("watercolor of a brick kiln chimney smoking over stacks of bricks", "chimney"),
        # an -ing noun with a sense one could draw stays one
        ("a painting on a gallery wall", "painting"),
        ("a clearing in a pine forest", "clearing"),
    ],
)
def test_an_act_after_a_noun_is_what_the_noun_does(scene, noun):
    assert parse_scene(scene).main.noun == noun


@pytest.mark.parametrize(
    ("scene", "kind"),
    [
        # a figure made of a material has no feathers to press flat (set 47's rubber ducks)
        ("hundreds of yellow rubber ducks floating down a town river", "object"),
        ("a stone lion guarding a temple gate", "object"),
        ("a knitted owl on a bookshelf", "object"),
        # an animal WordNet names with such a word stays alive
        ("a stone curlew on a shingle bank", "bird"),
        ("a paper wasp building a nest", "insect"),
        ("a rubber boa in the leaf litter", "serpent"),
    ],
)
def test_a_figure_made_of_a_material_is_a_thing_but_an_animal_s_name_is_not(scene, kind):
    assert parse_scene(scene).main.kind == kind


def test_from_far_above_no_face_can_be_read():
    # set 47: "eyes red-rimmed and downcast" in a drone shot of galloping horses
    drone = parse_scene("drone shot of Icelandic horses galloping across a braided river plain")
    assert look_conflict("body_language", "eyes red-rimmed and downcast", drone.facts)
    assert look_conflict("light", "the last light on the river", drone.facts) is None
    close = parse_scene("close-up of a horse grazing in a meadow")
    assert look_conflict("body_language", "eyes red-rimmed and downcast", close.facts) is None


def test_a_long_exposure_takes_no_fast_shutter():
    # set 47: "tight action framing with a fast shutter" on a long exposure of star trails
    stars = parse_scene("long exposure photo of star trails wheeling above the stone moai")
    assert contradiction(stars.facts, "tight action framing with a fast shutter")
    assert contradiction(stars.facts, "the stone mid-bounce, frozen in the air")
    assert contradiction(stars.facts, "a deep indigo sky") is None
    # a motion caught by the shutter is no frost
    assert "winter" not in phrase_facts("the smoker mid-bounce, frozen in the air")
    assert "winter" in phrase_facts("a frozen lake at dawn")


def test_a_simile_likens_the_subject_to_something_else():
    # set 44: "the lanterns lit from within like a lantern" for a roundhouse glowing with lanterns
    graph = load_concept_graph()
    lantern = graph.get("{the} lit from within like a lantern")
    assert lantern is not None
    lanterns = parse_scene("paper lanterns floating on a river at night")
    assert "itself" in (lantern.conflict(lanterns, anchored=False) or "")
    tent = parse_scene("a canvas tent pitched on a ridge at night")
    assert lantern.conflict(tent, anchored=False) is None


def test_a_still_life_holds_still():
    # set 45: "the pot mid-bounce, frozen in the air" in an oil painting still life
    still = parse_scene("oil painting still life of a split pomegranate and a brass coffee pot")
    assert "stationary" in still.facts
    bounce = load_concept_graph().get("{the} mid-bounce, frozen in the air")
    assert bounce is not None and bounce.conflict(still) is not None


def test_set_48_readings():
    # a home's room keeps the weather outside ("bloody paw prints on the snow" for a carver at a
    # kitchen table during a blizzard)
    carver = parse_scene("a carver shaping a walrus at a kitchen table during a January blizzard")
    assert "indoor" in carver.facts and "outdoor" not in carver.facts
    assert "outdoor" in parse_scene("a shepherd on a moor during a January blizzard").facts
    # a verb's bare object: the maker is busy ("head resting on folded arms, eyes closed")
    assert "busy" in parse_scene("a harpsichord maker painting flowers inside a lid").facts
    assert "busy" not in parse_scene("a harpsichord maker beside a painting").facts
    # a passed storm is over; one the scene is in is not
    after = parse_scene("a fulgurite half buried in desert sand after a summer lightning storm")
    assert "storm" not in after.facts
    assert after.entities[0].noun == "fulgurite"  # "half" is how far, not what
    assert "storm" in parse_scene("a lighthouse during a storm after a calm day").facts
    assert "storm" in parse_scene("a lighthouse lashed by a winter storm").facts
    # "high-speed" is no participle: the photo is the frame, the lizard the subject
    lizard = parse_scene("high-speed photo of a basilisk lizard sprinting across a river")
    assert [e.noun for e in lizard.entities] == ["lizard"]


def test_a_passed_storm_leaves_a_meaning_reader_s_storm_out():
    after = parse_scene("a fulgurite half buried in desert sand after a summer lightning storm")
    read = after.model_copy(update={"read_setting": frozenset({"storm", "desert"})})
    assert "storm" not in read.stated and "desert" in read.stated
    during = parse_scene("a lighthouse lashed by a winter storm")
    assert "storm" in during.model_copy(update={"read_setting": frozenset({"storm"})}).stated


def test_set_49_readings():
    # a chain of nouns ends at its head: "a ship figurehead carver" is a carver, no ship
    carver = parse_scene("a ship figurehead carver painting a wooden mermaid in a boatyard shed")
    assert [e.noun for e in carver.entities][:1] == ["carver"]
    # a polaroid is how the picture is made, not a thing in it
    polaroid = parse_scene("polaroid of a dancer on a stage")
    assert "polaroid" not in {e.noun for e in polaroid.entities}
    # a masked face shows no expression
    masked = parse_scene("masked Krampus runners shaking cowbells through a snowy street")
    afraid = "{poss} wide eyes and hunched shoulders"
    assert look_conflict("body_language", afraid, masked.facts)
    bare = parse_scene("carollers singing through a snowy street at night")
    assert look_conflict("body_language", afraid, bare.facts) is None


def test_set_50_readings():
    # a noun chain through a verb's base form ends at its head: a duck tour bus has no feathers
    bus = parse_scene("an amphibious duck tour bus splashing down a ramp into the Thames")
    assert [e.noun for e in bus.entities] == ["bus"]
    # ... but a plural subject's verb before a living thing stays a verb
    herd = parse_scene("A shepherd and her border collie drive sheep down a Welsh fell")
    assert "collie" in {e.noun for e in herd.entities}
    # "mid-game" is a state, like a participle
    board = parse_scene("a backgammon board mid-game on a cafe table in an Istanbul alley")
    assert board.entities[0].noun == "board"
    # a sleeper holds no squared shoulders
    squared = load_concept_graph().get("{poss} shoulders squared, chin thrust forward")
    porter = parse_scene("a night porter asleep behind the reception desk of a faded hotel")
    assert squared is not None and squared.conflict(porter) is not None
    assert squared.conflict(parse_scene("a boxer in a ring under hard lights")) is None


def test_set_51_readings():
    # a one-tone photographic process takes no palette
    for prompt in ("cyanotype of a monastery in fog", "tintype photo of a scrimshander"):
        facts = parse_scene(prompt).facts
        assert look_conflict("colour", "fluorescent green and tangerine palette", facts)
    assert "monochrome" not in parse_scene("a black and white cat on a sofa").facts
    # a sky's phenomenon or a landscape is too vast for a close-up
    close = load_concept_graph().get("harsh flash snapshot close-up")
    assert close is not None
    cloud = parse_scene("A morning glory cloud rolls over the Gulf of Carpentaria at sunrise")
    assert "too vast" in (close.conflict(cloud, anchored=False) or "")
    assert close.conflict(parse_scene("a beetle on a leaf"), anchored=False) is None
    # a bird swooping is not at rest, ready to launch
    launch = load_concept_graph().get("{poss} wings half open, ready to launch")
    owl = parse_scene("thermal camera image of a barn owl swooping onto a vole in a hayfield")
    assert launch is not None and launch.conflict(owl) is not None


def test_set_53_readings():
    graph = load_concept_graph()
    grin = graph.get("{poss} wide open-mouthed grin")
    tongue = graph.get("{poss} tongue stuck out in a grimace")
    assert grin is not None and tongue is not None
    # a mouth on a wind instrument or blowing shows no grin, tongue or shout
    for prompt in (
        "A launeddas player puffing his cheeks during a procession at dusk",
        "an alphorn player on a misty Swiss pasture",
        "a bagpiper playing a lament at a Highland funeral",
        "a boy playing a battered trumpet on a fire escape",
        "a girl blowing bubbles in a park",
    ):
        scene = parse_scene(prompt)
        assert "mouth_busy" in scene.facts, prompt
        assert grin.conflict(scene) and tongue.conflict(scene), prompt
    for prompt in ("a boy laughing on a beach", "a gale blowing across the moor"):
        assert "mouth_busy" not in parse_scene(prompt).facts, prompt
    assert grin.conflict(parse_scene("a boy laughing on a beach")) is None
    # a mask a gap of words away from "in" or "wearing" still hides the face
    wide = graph.get("{poss} wide eyes and hunched shoulders")
    assert wide is not None
    for prompt in (
        "Fasnacht piccolo players in huge painted masks marching through Basel at 4 a.m.",
        "dancers wearing carved wooden masks at a village festival",
    ):
        assert "masked" in parse_scene(prompt).facts, prompt
        assert wide.conflict(parse_scene(prompt)), prompt
    assert "masked" not in parse_scene("a mask maker in a workshop in Venice").facts
    # a living thing basking lies in the sun: no dim murky light; a basking shark's sea is dim
    dim = graph.get("dim murky light with a green cast")
    assert dim is not None
    tuatara = parse_scene("A tuatara basking on a lichen-covered rock on an offshore island")
    assert dim.conflict(tuatara) is not None
    assert dim.conflict(parse_scene("a basking shark gliding through green water")) is None
    # a subject busy at something does not pause to scent the air
    scent = graph.get("{poss} ears pricked, nose lifted toward the sky")
    assert scent is not None and scent.conflict(parse_scene("a numbat digging for termites"))
    assert scent.conflict(parse_scene("a fox on a hill at dawn")) is None
    # the named deserts are deserts
    for prompt in ("a camel caravan crossing the Sahara", "a yurt on the Gobi at dawn"):
        assert "site:desert" in parse_scene(prompt).facts, prompt
    # a scene that says its subject laughs has the mouth free
    assert grin.conflict(parse_scene("a saxophonist laughing between sets")) is None


@pytest.mark.parametrize(
    ("prompt", "absent"),
    [
        # a review's cases: a gap holds a thing's own words, not another phrase's
        ("a child playing with a tape recorder in the attic", "mouth_busy"),
        ("a dog playing next to a tuba", "mouth_busy"),
        ("kids playing among the trumpet lilies", "mouth_busy"),
        ("an old woman in her shop painting masks", "masked"),
        ("a vendor in Venice selling carnival masks", "masked"),
        ("a child in a museum of masks", "masked"),
        ("a man behind a stall of masks", "masked"),
    ],
)
def test_a_gap_in_a_fact_key_does_not_reach_into_another_phrase(prompt, absent):
    assert absent not in parse_scene(prompt).facts


@pytest.mark.parametrize(
    "prompt",
    [
        "an old cat basking in the warmth of a radiator on a rainy evening",
        "a man basking in the glow of his television at night",
        "seals basking on a rock under a full moon",
    ],
)
def test_basking_states_no_sun_the_scene_shuts_out(prompt):
    scene = parse_scene(prompt)
    assert "sunlit" not in scene.stated and "sunny" not in scene.facts


@pytest.mark.parametrize(
    ("prompt", "subject", "absent"),
    [
        # a review's cases: no storm is over when the scene runs into one, a passed gale leaves
        # no wind, a well is no degree word, a sofa out in the rain is outdoors, a comma ends a
        # noun chain, a clause's verb is no compound, a species is not masked
        ("a boy running after the dog into the storm", "boy", "passed_storm"),
        ("a beach after a gale", "beach", "windy"),
        ("a stone well at dusk", "well", None),
        ("an old sofa dumped on the kerb in the rain", "sofa", "indoor"),
        ("an old barn, lichen roof, morning fog", "barn", None),
        ("sheep graze meadow grass at dawn", "sheep", None),
        ("a masked booby on a rock", "booby", "masked"),
        ("a deep-sea trawler in a storm", "trawler", "submerged"),
    ],
)
def test_what_the_new_readings_leave_alone(prompt, subject, absent):
    scene = parse_scene(prompt)
    assert scene.entities[0].noun == subject
    assert absent is None or absent not in scene.facts


def test_a_scene_s_memo_lives_with_it_and_takes_no_part_in_its_value():
    import gc

    from emotion_director.knowledge.scene import model as module

    scene = parse_scene("a heron on a post at dusk").model_copy()
    copy = scene.model_copy()
    scene.memo("x")["k"] = 1
    assert scene.memo("x") == {"k": 1} and copy.memo("x") == {} and scene.memo("y") == {}
    assert scene == copy and "memo" not in scene.model_dump_json()
    # what a concept renders against a scene is the same read from the memo
    concept = load_concept_graph().get("{the} with speed lines streaking behind it")
    assert concept is not None
    first = concept.render(scene)
    assert concept.render(scene) == first == concept._render(scene)
    key = id(scene)
    del scene
    gc.collect()
    assert key not in module._SCENE_MEMOS


def test_set_54_readings():
    # a camera looking straight down shows no sky, and an overhead photo is a framing the user chose
    scene = parse_scene(
        "overhead photo of ceviche with toasted corn on a Lima market counter at noon"
    )
    assert {"downward_view", "framed"} <= scene.facts
    assert "no sky" in (
        look_conflict("weather", "fluffy cartoonish cumulus clouds", scene.facts) or ""
    )
    assert (
        look_conflict("light", "bright flat light with crisp little shadows", scene.facts) is None
    )
    flat = parse_scene("flat lay of a Sunday roast on a farmhouse table").facts
    assert look_conflict("object", "a rainbow arching over {the}", flat)
    # spiral stairs and a stairwell are a building's, as a spiral staircase is
    for prompt in (
        "piano movers hauling a piano up a tenement stairwell",
        "a cat on spiral stairs",
    ):
        assert "indoor" in parse_scene(prompt).facts, prompt
    # looking up or across, the sky is there
    park = parse_scene("a dog in a park at noon").facts
    assert look_conflict("weather", "fluffy cartoonish cumulus clouds", park) is None


@pytest.mark.parametrize(
    ("facet", "text"),
    [
        ("composition", "square instant-photo frame with a thick white border"),
        ("texture", "sticky bright plasticine textures"),
        ("composition", "arm's-length selfie angle with {the} crowding into the frame"),
        ("composition", "shot through a fly-specked lens"),  # set 98: a charcoal drawing
        ("texture", "fuzzy felt and pom-pom textures"),  # set 100: pixel art
        ("composition", "faded edges like an old photograph"),  # a stained glass window
    ],
)
def test_a_drawing_takes_no_photograph_s_print_or_modelled_medium(facet, text):
    """Set 97: an instant-photo border and plasticine on a pencil sketch (both readers)."""
    sketch = parse_scene("pencil sketch of a pierrot losing a tug-of-war with a bontebok").facts
    assert "drawn" in sketch and look_conflict(facet, text, sketch)
    assert look_conflict(facet, text, parse_scene("a pierrot on a stage").facts) is None


def test_the_viewer_s_own_gaze_is_the_user_s_framing():
    """Set 97: "looking down into an ancient baori" got "low-angle wide shot looking up"."""
    shot = load_concept_graph().get("low-angle wide shot looking up")
    baori = parse_scene("looking down into an ancient baori at noon, carved steps to green water")
    assert "framed" in baori.facts and shot.conflict(baori) is not None
    assert shot.conflict(parse_scene("an ancient stepwell at noon")) is None
    # set 98: an aquanaut "looking up from below" got an ultra-wide panorama
    aquanaut = parse_scene(
        "an aquanaut above glowing sea pens in black water, looking up from below"
    )
    assert "framed" in aquanaut.facts
    # a subject's gaze is no framing of the user's (a review)
    assert "framed" not in parse_scene("a girl looking down into a well").facts
    # set 99: "From behind, an old imam ..." got red-rimmed eyes (both readers)
    imam = parse_scene("From behind, an old imam sitting alone in an empty madrasa at dusk")
    assert {"framed", "face_hidden"} <= imam.facts
    assert "face_hidden" not in parse_scene("a cat peeking from behind a curtain").facts


@pytest.mark.parametrize(
    ("scene", "mood"),
    [
        ("a phrenologist solemnly measuring the lumpy head of a wallaroo", "solemnly"),
        ("a grocer calmly stacking oranges outside his shop at 6:15 a.m.", "calmly"),
        ("a man walking angrily down the street", "angrily"),
        ("a toddler happily splashing in a puddle", "happily"),
    ],
)
def test_a_mood_said_as_an_adverb_is_the_subject_s_face(scene, mood):
    """Set 97: raised eyebrows for a phrenologist "solemnly measuring"; set 96: gritted teeth
    for a grocer "calmly" stacking oranges (both left until the adverb was read as a mood)."""
    model = parse_scene(scene)
    feeling = stated_feeling(model, model.main)
    assert feeling is not None and feeling.word == mood
    brows = next(
        c for c in load_concept_graph().concepts("amusement") if "eyebrows shot up" in c.text
    )
    reason = brows.conflict(model)
    assert "happily" == mood or (reason and reason.endswith("as the scene says")), reason
    assert "solemnly," not in (reason or "")  # "the phrenologist is solemn"


@pytest.mark.parametrize(
    "scene",
    [
        "a boy running quickly",
        "a dog sleeping peacefully on a rug",
        "the stern of a skiff",
        # an adverb of another thing, or of vigour (a review)
        "a fisherman beside a calmly flowing river",
        "a sadly neglected garden with an old man",
        "a chef furiously chopping onions",
    ],
)
def test_an_adverb_of_no_mood_states_none(scene):
    model = parse_scene(scene)
    assert stated_feeling(model, model.main) is None


def test_set_56_readings():
    graph = load_concept_graph()
    # a rain the scene comes after has stopped; one it is in has not
    drizzle = graph.get("drizzle hanging in the air")
    assert drizzle is not None
    after = parse_scene(
        "the sandstone pillars of Zhangjiajie emerging from clouds after spring rain"
    )
    assert "rain" not in after.facts and drizzle.conflict(after) is not None
    assert "rain" in parse_scene("a boy walking home in the rain after school").facts
    assert "rain" in parse_scene("a street in the rain after a long day").facts
    # a photograph takes no drawn medium's marks; a print cut in wood no photographic process
    photo = parse_scene("underwater photo of a sarcastic fringehead in a bottle on the seabed")
    crayon = "crayon-scribble textures on paper"
    assert "photograph" in (look_conflict("texture", crayon, photo.facts) or "")
    assert look_conflict("texture", crayon, parse_scene("a child drawing at a desk").facts) is None
    assert look_conflict("texture", crayon, parse_scene("a photo booth at a fair").facts) is None
    print_ = parse_scene("ukiyo-e print of an Edo firefighter on a tiled rooftop at night")
    booth = "a photo-booth strip of four frames of {the}"
    assert "drawn" in print_.facts and look_conflict("composition", booth, print_.facts)
    # a crowd is no lone figure in empty space
    alone = graph.get("{the} small and isolated in negative space")
    assert alone is not None
    crowd = parse_scene("Crowds hurling squashed tomatoes in a narrow street of Buñol")
    assert alone.conflict(crowd) is not None
    assert alone.conflict(parse_scene("a heron on a post at dusk")) is None


def test_set_57_readings():
    # a low sun seen is no light of a rainy evening
    warm = load_concept_graph().get("the last warm light on {the}")
    assert warm is not None
    rainy = parse_scene(
        "The Nakagin Capsule Tower in Tokyo seen from street level on a rainy evening"
    )
    assert warm.conflict(rainy) is not None
    assert warm.conflict(parse_scene("a fishing boat in the harbour at dusk")) is None
    # "at home" is inside it, as "at a restaurant" is
    for prompt in ("a cat asleep at home on a sofa", "a girl doing homework at home"):
        facts = parse_scene(prompt).facts
        assert "indoor" in facts and "outdoor" not in facts, prompt


def test_destination_after_travel_is_not_the_setting():
    # "home" after a subject's verb of travel is where it goes: not a building, not indoors
    for prompt in (
        "a fishing boat coming home at dusk",
        "a trawler sailing home through sleet",
        "a nurse walking home after a night shift",
    ):
        facts = parse_scene(prompt).facts
        assert "indoor" not in facts and "building" not in facts, prompt
    # "home" that is not right after a subject's verb of travel is a place ("at home", "a
    # sinking home"); directions within the setting keep it ("downstairs", "indoors")
    assert "indoor" in parse_scene("a family at home on a rainy evening").facts
    assert "building" in parse_scene("a dog sleeping at home near a sinking home").facts
    assert "indoor" in parse_scene("a child running downstairs on christmas morning").facts
    assert "outdoor" not in parse_scene("a cat walking indoors out of the rain").facts
    # the verb must follow a subject: "a floating home" is a home that floats
    assert "indoor" in parse_scene("an old man sitting in a floating home on the canal").facts


def test_grey_part_of_day_is_overcast():
    assert "overcast" in parse_scene("a ferry terminal on a grey November afternoon").facts
    assert "overcast" in parse_scene("rowers on a gray winter morning").facts
    # a grey animal on a sunny day, a grey wall on a hot one: no grey sky
    assert "overcast" not in parse_scene("a grey heron on a sunny day").facts
    assert "overcast" not in parse_scene("a gray cat on a bright summer day").facts


def test_set_58_59_readings():
    graph = load_concept_graph()
    # no weather falls underground or under water, whatever a reader of meaning finds in the
    # words ("a wet night")
    rain = graph.get("steady grey rain")
    assert rain is not None
    car_park = parse_scene("a pipe band practising in an underground car park on a wet night")
    read_wet = car_park.model_copy(update={"read_setting": frozenset({"rain", "night"})})
    assert rain.conflict(read_wet) is not None
    assert rain.conflict(parse_scene("a tram in the rain at night")) is None
    # a face buried in the hands is a waking gesture; a smile shows on the mouth
    buried = graph.get("{poss} face buried in the hands")
    smile = graph.get("{poss} shoulders dropped, a faint smile")
    assert buried is not None and smile is not None
    assert buried.conflict(parse_scene("a coach driver asleep across the back seats")) is not None
    assert buried.conflict(parse_scene("a widow on a bench")) is None
    assert smile.conflict(parse_scene("a euphonium player practising in a parked car")) is not None
    assert smile.conflict(parse_scene("a gardener resting on a bench")) is None


def test_set_60_readings():
    # people filling a public place are a crowd: no subject "small and isolated in negative space"
    alone = load_concept_graph().get("{the} small and isolated in negative space")
    assert alone is not None
    dancers = parse_scene("Sinulog dancers in feathered costumes filling a Cebu street at noon")
    assert "crowd" in dancers.facts and alone.conflict(dancers) is not None
    assert "crowd" not in parse_scene("a man filling the tank of his car on a street").facts
    # a shop's counter is indoors
    assert "indoor" in parse_scene("a pawnbroker weighing rings behind a barred counter").facts


def test_a_noun_before_a_comma_modifies_nothing_after_it():
    # "a brewery loft, dust in the sunbeams": the loft is where the barrels are (set 61 gave the
    # loft "a windless blue sky" when "loft dust" was read as one noun)
    facts = parse_scene(
        "cedar barrels of fermenting soy sauce in a Shodoshima brewery loft, dust in the sunbeams"
    ).facts
    assert "indoor" in facts
    assert "indoor" in parse_scene("an Enigma machine in a Bletchley Park hut, lamplight").facts


def test_no_skin_detail_from_far_above():
    sweat = load_concept_graph().get("grit and sweat on skin")
    assert sweat is not None
    drone = parse_scene("drone shot of a ploughing match, tractors cutting furrows across stubble")
    assert sweat.conflict(drone) is not None
    assert sweat.conflict(parse_scene("a boxer between rounds in a gym")) is None


def test_arms_spread_to_a_view_is_a_waking_pose():
    arms = load_concept_graph().get("{poss} arms spread wide, facing the view")
    assert arms is not None
    sleeper = parse_scene("a night-shift baker asleep on a bench beside the proving racks")
    assert arms.conflict(sleeper) is not None
    assert arms.conflict(parse_scene("a hiker on a summit at dawn")) is None


def test_set_63_readings():
    # a white sky, or a grey one of a season, is a sky of cloud ("a blue sky with a few wisps"
    # under a white midday sky)
    assert "overcast" in parse_scene("children paddling boats under a white midday sky").facts
    assert "overcast" in parse_scene("a bicycle rusting in a yard under a grey winter sky").facts
    assert "overcast" not in parse_scene("a white horse under a blue sky").facts
    # a short verb right after its subject ("tying" from tie): the woman is busy, and a pose
    # held instead ("arms spread wide, facing the view") is not hers
    assert "busy" in parse_scene("an elderly woman tying bitter melon vines to a trellis").facts
    assert "busy" not in parse_scene("a dog lying in the grass").facts  # a posture, at rest
    assert "busy" not in parse_scene("a thing on a swing").facts
    # skin damp with sweat is not seen under water
    graph = load_concept_graph()
    clammy = graph.get("clammy, glistening skin")
    assert clammy is not None
    diver = parse_scene("a marine biologist clipping coral fragments underwater off Bonaire")
    assert not clammy.fits(diver)
    assert clammy.fits(parse_scene("a sewer worker wading through sludge in a tunnel"))


def test_a_fishs_bowl_or_tank_is_indoors_not_every_bowl_or_tank():
    # "steam curling off a paper bowl of noodles" was refused as indoor for a driver under a
    # motorway bridge
    assert "indoor" not in phrase_facts("steam curling off a paper bowl of noodles")
    assert "indoor" not in parse_scene("a tank rolling through mud").facts
    octopus = parse_scene("an octopus squeezing into a glass jar on the seafloor")
    assert "indoor" not in octopus.facts
    assert "indoor" in parse_scene("a goldfish in a glass bowl").facts
    assert "indoor" in parse_scene("an axolotl in a fish tank").facts
    # a review found these read as indoors: a tank top, rainwater in a jar, a cat in a cage
    for outdoors in ("a jogger in a tank top", "rainwater pooling in a jar", "a cat in a cage"):
        assert "indoor" not in phrase_facts(outdoors), outdoors


def test_set_64_readings():
    graph = load_concept_graph()

    def refused(text, scene):
        concept = graph.get(text)
        assert concept is not None, text
        return concept.conflict(parse_scene(scene)) is not None

    # lips pursed to whistle; cheeks puffed shut while laughing; a raised hand while asleep
    handler = "a sheepdog trial handler whistling as a border collie pens three ewes"
    assert refused("{poss} eyes huge, mouth in a whoop", handler)
    laughing = "two women laughing while pounding fufu in a wooden mortar"
    assert refused("{poss} cheeks puffed out like a hamster", laughing)
    assert refused("a raised hand blocking half the frame", "a repairman asleep in his kiosk")
    assert not refused("a raised hand blocking half the frame", "a repairman in his kiosk")
    # a compound adjective opens no clause: the macaques are the subject, not "November"
    macaques = parse_scene(
        "crab-eating macaques raiding a fruit buffet on temple steps, late November"
    )
    assert macaques.entities[0].noun == "macaques"
    assert (
        parse_scene("Hired to count bats, a surveyor sits in a cave").entities[0].noun == "surveyor"
    )


@pytest.mark.parametrize(
    ("scene", "refused"),
    [
        # a second review: subjects joined by "and" share the expression; a comma ends the
        # subject's name; all of a subject's expressions count together
        ("a man and a woman laughing on a bench", True),
        ("a bride and groom smiling under an arch", True),
        ("a girl hugging her puppy, smiling", True),
        ("an old man, laughing children running past him", False),
        ("a tearful, smiling bride", True),
        ("a baby cries in a crib", True),
        ("a man on a bench", False),
    ],
)
def test_whose_expression_it_is(scene, refused):
    fists = load_concept_graph().get("{poss} clenched fists and a furrowed brow")
    assert fists is not None
    reason = fists.conflict(parse_scene(scene))
    assert (reason is not None and "as the scene says" in reason) is refused
    if scene.startswith("a baby"):
        assert reason == "the baby is crying, as the scene says"  # the -ing form, not "cries"


def test_a_bright_part_of_the_day_is_sunny_unless_its_weather_says_otherwise():
    assert "sunny" in parse_scene("a crew on a bright February afternoon").facts
    assert "sunny" in parse_scene("ice yachts on a bright cold morning").facts
    # weather ends the gap: "bright overcast" is a photographer's light, not the sun
    overcast = parse_scene("a bright overcast day on the moors").facts
    assert "overcast" in overcast and "sunny" not in overcast


def test_a_phrase_s_facts_are_read_in_one_pass_as_the_substring_test_read_them():
    """The word-run index (``_named_in``) names exactly what testing every key as a substring
    of the spaced phrase named, on every concept of the graph and on phrases made to straddle
    keys."""
    from emotion_director.knowledge.concept_graph import load_concept_graph
    from emotion_director.knowledge.scene import FACT_WORDS, SITES
    from emotion_director.knowledge.scene.conflicts import _fact_runs, _named_in, _site_runs

    def brute(text, table):
        return {v for v, keys in table.items() if any(f" {k} " in text for k in keys)}

    texts = [c.text for e in Emotion for c in load_concept_graph().concepts(e)]
    texts += ["a night sky over a snowy forest at dawn", "in the rain in a crowded street", ""]
    for text in texts:
        spaced = " " + " ".join(text.lower().split()) + " "
        assert _named_in(spaced, _fact_runs()) == brute(spaced, FACT_WORDS), text
        assert _named_in(spaced, _site_runs()) == brute(spaced, SITES), text


def test_a_key_with_gaps_matches_as_the_pattern_of_its_definition_did():
    """``gapped_facts`` (a walk over the phrase's words) finds what the regular expression of
    the gap's definition finds: up to three words, none a gap break or an -ing word."""
    import re

    from emotion_director.knowledge.concept_graph import load_concept_graph
    from emotion_director.knowledge.scene import FACT_WORDS
    from emotion_director.knowledge.scene.vocabulary import _FACTS, gapped_facts

    breaks = "|".join(map(re.escape, sorted(_FACTS.gap_breaks)))
    gap = rf" (?:(?!(?:{breaks}) )(?!\S*ing )\S+ ){{0,3}}"
    patterns = {
        fact: [
            re.compile(" " + gap.join(map(re.escape, k.split(" * "))) + " ")
            for k in keys
            if " * " in k
        ]
        for fact, keys in FACT_WORDS.items()
    }
    texts = [c.text for e in Emotion for c in load_concept_graph().concepts(e)]
    texts += [
        "a bright february afternoon",
        "a bright morning then an afternoon",
        "bright with an afternoon",  # a gap break in the gap
        "bright painting the afternoon",  # an -ing word in the gap
        "bright one two three afternoon",
        "bright one two three four afternoon",  # too wide
        "in the may heat",
        "",
    ]
    for text in texts:
        spaced = " " + " ".join(text.lower().split()) + " "
        want = {f for f, ps in patterns.items() if any(p.search(spaced) for p in ps)}
        assert gapped_facts(spaced.split()) == want, text


@pytest.mark.parametrize(
    ("scene", "verb"),
    [
        (
            "In a narrow shop in Kobe, an elderly hanko carver cuts a family name into a seal",
            "cuts",
        ),
        ("a friendly waiter pours wine", "pours"),
        ("a woman in a red coat sells flowers", "sells"),
        ("A schoolboy with frost-white eyelashes trudges to class through ice fog", "trudges"),
        ("an old man with a cane climbs the stairs", "climbs"),
        ("a child in a field of poppies waves at a train", "waves"),
        ("A grandmother in Oaxaca grinds corn on a stone metate", "grinds"),
        ("a girl with hair clips smiles at her father", "smiles"),
        ("a man in a woolly hat shovels snow", "shovels"),
    ],
)
def test_the_subject_s_verb_is_read_past_an_adjective_in_ly_or_a_phrase_describing_it(scene, verb):
    """An adjective in -ly ("elderly") is the phrase's own, not an adverb that ends it, and an -s
    verb agrees with a singular subject past the phrase that describes it (set 74: "cuts" and
    "trudges" were not read, so a busy carver got "arms crossed tight")."""
    parsed = parse_scene(scene)
    assert verb in parsed.actions and "busy" in parsed.facts


@pytest.mark.parametrize(
    ("scene", "actions"),
    [
        ("a woman in a fur coat, sleeves rolled up", []),
        ("a fisherman in oilskins mends nets", ["mends"]),  # not "nets" too
        ("a slowly sinking boat drifts", []),  # an adverb in -ly still ends the phrase
        # the last word of a compound noun is no verb
        ("a boy with ice skates", []),
        ("a man with garden tools", []),
        ("a girl with hair clips smiles", ["smiles"]),
    ],
)
def test_no_verb_is_read_where_the_words_say_otherwise(scene, actions):
    assert parse_scene(scene).actions == actions


@pytest.mark.parametrize(
    ("scene", "fitted"),
    [
        (
            "Nervous and pale, a schoolgirl spells a long word into the microphone",
            "Pale, a schoolgirl spells a long word into the microphone",
        ),
        ("Angry dockers blockading a container crane", "Dockers blockading a container crane"),
        ("a gloomy and cold street at dusk", "a cold street at dusk"),
        ("a dog, wet and angry, by the door", "a dog, wet, by the door"),
        # a pair of nouns keeps its "and"
        ("mouldy durian and rotting shrimp in a fridge", "mouldy durian and shrimp in a fridge"),
        # the first one goes, as written
        ("a gloomy alley, dark and gloomy", "an alley, dark and gloomy"),
        ("an angry dog", "a dog"),
    ],
)
def test_a_word_moved_to_the_negative_prompt_takes_its_and_with_it(scene, fitted):
    """Set 74's schoolgirl began "and pale, a schoolgirl ..."."""
    assert fit_subject(parse_scene(scene), scene, "contentment")[0] == fitted


@pytest.mark.parametrize(
    ("scene", "tags"),
    [
        ("Sweating in the May heat, a cotton carder twangs a bowstring", {"hot"}),
        ("a lawn mower stuck in a rosebush on a scorching February afternoon", {"hot", "sunlit"}),
        ("a paper shredder jams in a tax accountant's cluttered office", {"cluttered"}),
    ],
)
def test_set_74_s_heat_sun_and_clutter_are_stated(scene, tags):
    assert tags <= parse_scene(scene).stated


def test_an_empty_frame_is_refused_where_the_scene_is_cluttered_or_crowded():
    from emotion_director.knowledge.setting import concept_settings, unanchored

    empty = concept_settings()["static frame with lots of empty floor"]
    assert "empty" in empty
    for scene in ("a shredder in a cluttered office", "a tinsmith in a cramped workshop"):
        assert "cluttered" in unanchored(empty, parse_scene(scene).stated), scene
    assert "crowded" in unanchored(empty, parse_scene("crowds of spectators in a hall").stated)
    assert unanchored(empty, parse_scene("a tinsmith in a workshop").stated) is None


@pytest.mark.parametrize(
    ("scene", "subject", "place"),
    [
        (
            "In the wing mirror of a parked lorry, a shepherd leads hundreds of sheep",
            "shepherd",
            "lorry",
        ),
        ("Inside a stretch limousine, six bridesmaids take selfies", "bridesmaids", "limousine"),
        ("Layer by layer, a 3D printer builds a tiny dinosaur skull on a shelf", "printer", None),
    ],
)
def test_what_opens_the_scene_with_where_or_how_is_not_its_subject(scene, subject, place):
    """Set 75 bound "soft vignette closing in around the lorry" for a shepherd seen in its
    mirror, and a worm's-eye view to "the layer" of "layer by layer"."""
    parsed = parse_scene(scene)
    assert parsed.main.noun == subject
    assert place is None or place in {p.noun for p in parsed.places}
    assert "layer" not in {e.noun for e in [*parsed.entities, *parsed.places]}


def test_a_vehicle_after_its_subject_stays_a_subject():
    assert {e.noun for e in parse_scene("a dog in a car").entities} == {"dog", "car"}


@pytest.mark.parametrize(
    "scene",
    [
        "A robotic probe glides past Saturn's rings toward a distant Sun",
        "a solar sail drifting past Jupiter",
        "a robotic gondola floats among acid clouds high above Venus",
        "a satellite orbiting the Moon",
    ],
)
def test_a_craft_past_or_above_another_planet_is_in_space(scene):
    assert "space" in parse_scene(scene).stated


def test_a_scene_on_the_ground_of_mars_is_not_in_space():
    assert "space" not in parse_scene("a rover parked beside a dune on Mars").stated


@pytest.mark.parametrize(
    ("scene", "living"),
    [("a boy Kwame kicks a ball", True), ("a chef anjali stirs a pot", True)],
)
def test_a_name_after_a_living_noun_keeps_its_body(scene, living):
    """The rule for "a feller buncher" (a noun before an unknown head) leaves names alone."""
    assert ("face" in parse_scene(scene).facts) is living


def test_a_vehicle_with_its_own_verb_in_the_opening_clause_stays_its_subject():
    assert parse_scene("Across the desert a truck speeds, dust rising behind it").main.noun == (
        "truck"
    )


@pytest.mark.parametrize(
    ("scene", "absent"),
    [
        ("a girl with messy hair alone on a vast empty beach", "cluttered"),
        ("tourists crowd around the Venus de Milo in the Louvre", "space"),
        ("a man walks past a rusty Saturn sedan", "space"),
        ("diners in wool coats, heat lamps glowing on a snowy winter terrace", "hot"),
        ("a bright lamp, grey afternoon in a study", "sunlit"),
    ],
)
def test_words_that_only_look_like_a_setting_state_none(scene, absent):
    assert absent not in parse_scene(scene).stated


def test_a_participle_that_opens_the_scene_is_not_its_subject():
    parsed = parse_scene("Stuck in a stalled lift, a delivery rider balances three pizza boxes")
    assert parsed.main.noun == "rider"


@pytest.mark.parametrize(
    ("scene", "concept", "why"),
    [
        (
            "Eyes closed, a teenage girl in headphones listens to a jazz record",
            "{poss} eyes huge, mouth in a whoop",
            "eyes_shut",
        ),
        (
            "A Parsi priest in a white mouth veil feeds sandalwood sticks into the sacred fire",
            "{poss} eyes huge, mouth in a whoop",
            "masks",
        ),
        (
            "A man in a business suit chases his flat cap across a busy pedestrian crossing",
            "{the} small and isolated in negative space",
            "crowded",
        ),
    ],
)
def test_set_76_s_stated_eyes_veil_and_crowd_refuse_what_contradicts_them(scene, concept, why):
    reason = load_concept_graph().get(concept).conflict(parse_scene(scene))
    assert reason is not None and why in reason


def test_open_eyes_are_read_off_the_concept_s_words():
    from emotion_director.knowledge.setting import concept_settings

    settings = concept_settings()
    assert "open_eyes" in settings["{poss} eyes huge, mouth in a whoop"]
    assert "open_eyes" not in settings["{poss} eyes closed, face tilted to the sun"]
    assert "open_eyes" not in settings["a wolf's eyes reflecting the light beyond {the}"]


@pytest.mark.parametrize(
    "scene",
    [
        "A farmer's daughter and a newborn piglet nap side by side in fresh straw",
        "a girl and her dog sleep on the sofa",
        "two cats nap in the sun",
    ],
)
def test_a_sleep_verb_s_base_form_after_a_plural_or_joined_subject_is_sleep(scene):
    """Set 77 gave a napping girl "eyes shining" ("piglet nap" was read as one noun)."""
    assert "asleep" in parse_scene(scene).stated


def test_two_joined_subjects_take_a_verb_s_base_form():
    assert parse_scene("a boy and a girl play chess on a porch").actions == ["play"]
    assert "asleep" not in parse_scene("a fisherman mending nets while gulls doze").stated


def test_a_plural_in_ses_is_read_back_to_its_noun():
    from emotion_director.knowledge.scene import singular

    assert singular("buses") == "bus" and singular("horses") == "horse"
    assert parse_scene("Rows of empty yellow school buses sit in a depot").main.kind == "vehicle"


@pytest.mark.parametrize(
    "scene",
    [
        "A night porter reads a thick crime novel behind the desk of a seaside hotel",
        "oil painting of a woman reading a newspaper on a park bench in winter",
        "a lone reindeer herder kneeling over a fallen calf on the windswept tundra at dusk",
        "a pinball repairman bent over an open machine in his cluttered garage at midnight",
        "a watchmaker hunched over a movement under a loupe",
    ],
)
def test_a_subject_reading_or_bent_over_its_work_gets_no_gaze_lifted_away(scene):
    """Both readers called "eyes lifted" a clash for a reader, 2 of 2 times (sets 1-77), and
    for a herder kneeling over a fallen calf (set 15)."""
    concept = load_concept_graph().get("{poss} mouth slightly open, eyes lifted")
    assert "eyes_down" in concept.conflict(parse_scene(scene))
    for free in ("a hiker on a summit at dawn", "a woman leaning over the railing of a ferry"):
        assert concept.conflict(parse_scene(free)) is None, free


def test_a_camera_s_point_of_view_is_no_gaze():
    from emotion_director.knowledge.setting import concept_settings

    settings = concept_settings()
    assert "gaze_away" in settings["standing on the summit ridge looking out"]
    assert (
        "gaze_away" not in settings["under-the-table point of view looking out at shuffling legs"]
    )


def test_an_adverb_between_a_subject_and_its_verb_keeps_the_verb():
    """Set 78 gave "a girl proudly holds up the lopsided birthday cake" "curled up asleep"."""
    assert parse_scene("a girl proudly holds up the lopsided birthday cake").actions == ["holds"]
    assert parse_scene("a slowly sinking boat drifts").actions == []


def test_a_breezy_evening_is_windy():
    assert "wind" in parse_scene("a retriever leaping for a frisbee on a breezy May evening").stated


@pytest.mark.parametrize(
    "scene",
    [
        "Schoolgirls in Kyiv watching a puppet show in a small theatre, mouths open",
        "Retired couples in folding chairs watching the Tour de France peloton flash past",
    ],
)
def test_a_subject_watching_something_gets_no_gaze_cast_down(scene):
    """Set 79: both readers called "gaze cast down" and "eyes red-rimmed and downcast" a clash
    for watchers; a gaze lifted stays (an astronomer watching the aurora)."""
    graph, parsed = load_concept_graph(), parse_scene(scene)
    assert "eyes_on" in graph.get("{poss} shoulders slumped, gaze cast down").conflict(parsed)
    assert graph.get("{poss} mouth slightly open, eyes lifted").conflict(parsed) is None


def test_a_stand_off_keeps_the_eyes_on_the_other():
    """Set 86: "a mongoose facing down a hooded cobra" got "eyes red-rimmed and downcast"."""
    parsed = parse_scene("a mongoose facing down a hooded cobra on a cracked mud bund in Sindh")
    downcast = load_concept_graph().get("{poss} eyes red-rimmed and downcast")
    assert "eyes_on" in downcast.conflict(parsed)
    for look_down in ("a widow staring down at the letter in her lap", "a drunk lying facing down"):
        assert "eyes_on" not in parse_scene(look_down).stated, look_down
    assert "eyes_on" in parse_scene("a boxer staring down his opponent").stated


def test_a_pocket_watch_is_no_watching():
    assert "eyes_on" not in parse_scene("a clockmaker bent over a broken pocket watch").stated


@pytest.mark.parametrize(
    ("scene", "noun"),
    [
        ("She reads by the window.", "woman"),
        ("he tosses the last crate aboard a ferry", "man"),
        ("As the ferry horn sounds, he tosses the last crate of mangoes aboard", "man"),
        ("When the bell rings, she runs to the door", "woman"),
        ("Whilst the kettle boils, she reads the paper", "woman"),
        ("they laugh on a bench in the park", "people"),
        ("He's fixing a bike in the garage", "man"),
        ("They're dancing in the rain", "people"),
        # the pronoun's noun is taken: the subject is a person, not the sobbing woman
        ("She comforts a sobbing woman at a bus stop", "person"),
    ],
)
def test_a_pronoun_opening_the_main_clause_is_the_subject(scene, noun):
    """Set 73 bound "heavy headroom with the horn low in the frame" to the ferry horn of "As the
    ferry horn sounds, he tosses ..."; "She reads by the window" had the window as its subject."""
    parsed = parse_scene(scene)
    assert parsed.main is not None and parsed.main.noun == noun
    assert parsed.main.kind in {"person", "group"} and parsed.main.implied


def test_the_verb_after_a_pronoun_is_no_subject_of_its_own():
    parsed = parse_scene("she smiles at her reflection in a shop window")
    assert "smiles" not in [e.noun for e in parsed.entities]


@pytest.mark.parametrize(
    ("scene", "noun"),
    [
        ("As the ferry horn sounds, a porter tosses the last crate aboard.", "porter"),
        ("As he watches, a cat stalks a pigeon on the lawn", "cat"),
        # no clause of its own after the comma: the opening's subject stays the scene's
        ("While a baker slides loaves into the oven, flour drifting in the warm light", "baker"),
        ("When a heron lands on the pond, ripples spreading outward", "heron"),
    ],
)
def test_a_conjunction_s_clause_before_the_comma_is_not_the_main_one(scene, noun):
    parsed = parse_scene(scene)
    assert parsed.main is not None and parsed.main.noun == noun


def test_a_pronoun_subject_keeps_its_stated_expression():
    parsed = parse_scene("she smiles at her reflection in a shop window")
    shown = stated_expression(parsed, parsed.main)
    assert shown is not None and "contentment" in shown.emotions
    # the user's word stays: the prompt is not rewritten around "woman"
    assert fit_subject(parsed, parsed.text, "sadness")[0] == parsed.text


def test_people_named_by_a_pronoun_are_not_cast_as_another_people():
    """Set 84: "they stand shivering in the car park of a call centre" got "family members
    leaning shoulder to shoulder" and "a grandmother braiding a child's hair" (both readers: a
    clash). A family named by the scene keeps its concept; a concept naming no people, or the
    pronoun's own ("figures"), still joins people named by a pronoun."""
    graph = load_concept_graph()
    they = parse_scene("After the fire alarm sounds, they stand in the car park of a call centre")
    for text in (
        "family members leaning shoulder to shoulder",
        "a grandmother braiding a child's hair",
        "a crowd throwing hats into the air",
    ):
        reason = graph.get(text).conflict(they)
        assert reason is not None and "whom the scene does not name" in reason, (text, reason)
    for text in (
        "two figures squared off nose to nose",
        "a row of heads popping up at the bottom of the frame",
    ):
        reason = graph.get(text).conflict(they)
        assert reason is None or "whom the scene does not name" not in reason, (text, reason)
    family = parse_scene("a family of five squashed into a hatchback in a ferry queue at dawn")
    assert graph.get("family members leaning shoulder to shoulder").conflict(family) is None


@pytest.mark.parametrize(
    ("scene", "exerting"),
    [
        ("a fencer lunging at her opponent during a tournament in a sports hall", True),
        ("gaelic footballers leaping for a high catch on a muddy Kerry pitch at dusk", True),
        ("Hundreds of fishermen with gourds and nets leap into the river", True),
        ("Bargain hunters stampede through the sliding doors of a superstore", True),
        ("Leaping from the rocks, a goat lands on a narrow ledge", True),
        ("She sprints down the platform as the doors close", True),
        ("A Theyyam performer dancing before a bonfire in a Kerala village", False),
        ("a lone refugee trudging along a dusty road", False),
        # another's exertion, or no verb of the subject's
        ("an old man on a bench watching boys leap into the river", False),
        ("a dog asleep while children chase each other around the garden", False),
        ("a jumping spider on a leaf", False),
        ("a woman running a bakery in Lyon", False),
        ("a muddy spring fair in a village", False),
        ("an electric car charging at a station", False),
        # caught midway through it (held-out set 88: a cheerleader frozen mid-jump under
        # floodlights got slumped shoulders and a downcast gaze, both readers)
        ("a cheerleader frozen mid-jump under floodlights at a high-school football game", True),
        ("a hurdler caught mid-leap", True),
        ("an old man watching a boy mid-leap", False),
        ("a cat mid-yawn on a sofa", False),
        # a fight body to body, WordNet's first sense of "fight" itself (set 104: dockhands
        # brawling on a barge got "shoulders hunched, leaning away", both readers; "brawl" is a
        # noisy quarrel to WordNet, so it stays unread)
        ("two stags fighting in the rut on a misty moor", True),
        ("schoolboys tussling in the mud behind the bike sheds", True),
        ("a knight jousting at a summer tournament", True),
        ("a general waging war from a bunker", False),
    ],
)
def test_a_scene_states_exerting_where_its_subject_moves_its_whole_body_hard(scene, exerting):
    assert ("exerting" in parse_scene(scene).facts) is exerting


def test_a_slack_posture_joins_no_subject_exerting_itself():
    """Sets 28-80: slumped, hunched or loose shoulders clashed for a fencer lunging, footballers
    leaping, fishermen leaping into a river and bargain hunters stampeding; for a subject that
    only travels they were mostly fine (a mail carrier walking, a sewer inspector wading)."""
    graph = load_concept_graph()
    slack = [
        "{poss} shoulders slumped, gaze cast down",
        "{poss} wide eyes and hunched shoulders",
        "{poss} shoulders dropped, a faint smile",
    ]
    leaping = parse_scene("gaelic footballers leaping for a high catch on a muddy pitch at dusk")
    trudging = parse_scene("a lone refugee trudging along a dusty road")
    for text in slack:
        assert "exerting" in (graph.get(text).clash(leaping) or "")
        assert graph.get(text).clash(trudging) is None


@pytest.mark.parametrize(
    ("scene", "concept", "refused"),
    [
        (
            "A nervous best man rehearsing his speech to the mirror in a cramped hotel lift",
            "{poss} long exhale, shoulders loose",
            True,
        ),
        (
            "A furious commuter thumping a ticket machine at a suburban railway station at dawn",
            "{poss} mouth slightly open, eyes lifted",
            True,
        ),
        (
            "bored intern feeding old files into a shredder in a windowless basement archive",
            "{poss} wide eyes and hunched shoulders",
            True,
        ),
        # the same feeling as the stated mood joins it
        (
            "a furious commuter at a ticket machine",
            "{poss} teeth gritted, cheeks flushed red",
            False,
        ),
        # a mood of the place, not of the subject
        ("a lonely road, a man walking", "{poss} mouth slightly open, eyes lifted", False),
        # words for how a thing strikes the viewer, or any word the NRC lexicon gives a feeling,
        # are no mood of the subject
        ("a scary clown at a fair", "{poss} wide eyes and hunched shoulders", False),
        ("a lesser kestrel hovering over a field", "{poss} eyes half-closed and jaw loose", False),
        ("a venerable monk at a temple gate", "{poss} mouth slightly open, eyes lifted", False),
    ],
)
def test_a_stated_mood_is_the_subject_s_face(scene, concept, refused):
    """Sets 80-81: both readers called "the man's long exhale, shoulders loose" a clash for "a
    nervous best man" (contentment), an awed gaze for "a furious commuter" (awe), a whoop for
    "an anxious groom" (excitement) and a frightened face for "a bored intern" (fear)."""
    reason = load_concept_graph().get(concept).face_conflict(parse_scene(scene))
    assert (reason is not None) is refused
    if refused:
        assert "as the scene says" in reason


def test_a_mood_and_an_expression_together_state_both_feelings():
    parsed = parse_scene("a nervous bride smiling at the altar")
    shown = stated_feeling(parsed, parsed.main)
    assert shown is not None
    assert "fear" in shown.emotions and "contentment" in shown.emotions
    assert stated_feeling(parsed, None) is None


def test_figures_standing_apart_join_no_packed_crowd():
    """Set 80 gave "figures standing apart, not looking at each other" to townsmen sprinting
    through a packed crowd."""
    concept = load_concept_graph().get("figures standing apart, not looking at each other")
    scene = "Laughing townsmen sprint through a packed crowd with blazing tar barrels at night"
    assert concept.clash(parse_scene(scene)) is not None
    assert concept.clash(parse_scene("two old men on a bench in a park")) is None


def test_a_water_creature_named_after_a_land_animal_is_the_creature():
    """Set 81 drew "wide lens distortion bulging the robin toward the camera" for a sea robin
    (both readers: the bird)."""
    parsed = parse_scene("a sea robin walking across a sandy seabed on its leg-like fins")
    assert parsed.main is not None and parsed.main.kind == "fish"
    assert parsed.main.label() == "the sea robin"
    # a night owl is still an owl, a garden snail a snail
    assert parse_scene("a night owl on a branch").main.kind == "bird"


@pytest.mark.parametrize(
    ("scene", "kind"),
    [
        ("coach full of football fans singing on the motorway to an away game", "object"),
        ("a coach packed with tourists in the Alps", "object"),
        ("a football coach shouting at his players", "person"),
        ("a man full of joy dancing in the street", "person"),
    ],
)
def test_a_person_s_noun_holding_people_is_a_vessel(scene, kind):
    """Set 81 drew "a flash snapshot with a hard shadow behind the coach" for a coach of fans."""
    parsed = parse_scene(scene)
    assert parsed.main is not None and parsed.main.kind == kind


def test_a_downcast_gaze_joins_no_subject_exerting_itself():
    """Set 82: both readers called "the jockeys' eyes red-rimmed and downcast" a clash for child
    jockeys sprinting, and the same for a leopard seal lunging at a penguin."""
    graph = load_concept_graph()
    sprinting = parse_scene("Child jockeys sprinting bareback across the steppe during a race")
    standing = parse_scene("a jockey standing by a paddock fence in the rain")
    for text in ("{poss} eyes red-rimmed and downcast", "{poss} shoulders slumped, gaze cast down"):
        assert "exerting" in (graph.get(text).clash(sprinting) or "")
        assert graph.get(text).clash(standing) is None


def test_a_downcast_gaze_joins_no_subject_laughing_or_singing():
    """Sets 1-105: a downcast gaze or a bowed head was clash or mild in 8 of 20 readings of
    subjects who laugh, sing or shout (laughing chambermaids got red-rimmed downcast eyes)."""
    graph = load_concept_graph()
    laughing = parse_scene("hotel chambermaids laughing in a service lift with their trolley")
    quiet = parse_scene("hotel chambermaids resting in a service lift with their trolley")
    for text in ("{poss} eyes red-rimmed and downcast", "pale lamplight on {poss} bowed head"):
        assert "vocal" in (graph.get(text).clash(laughing) or "")
        assert graph.get(text).clash(quiet) is None


def test_a_fainting_subject_makes_no_face():
    # set 107, both readers: "a groomsman fainting mid-vows" got cheeks puffed out like a hamster
    graph = load_concept_graph()
    fainting = parse_scene("a groomsman fainting in a packed tabernacle")
    assert "asleep" in fainting.facts
    # (a review: not a fainting couch, nor fans swooning)
    assert "asleep" not in parse_scene("a victorian lady reading on a fainting couch").facts
    assert "asleep" not in parse_scene("teenage fans swooning at a boy band concert").facts
    assert graph.get("{poss} cheeks puffed out like a hamster").conflict(fainting) is not None


def test_a_thing_held_in_the_mouth_keeps_it_busy():
    """Set 106, both readers: a gasman with a torch between his teeth got "pulling a face with
    tongue out and eyes crossed"."""
    graph = load_concept_graph()
    held = parse_scene("a gasman wedged under the sink with a torch between his teeth")
    free = parse_scene("a gasman wedged under the sink with a torch")
    assert "mouth_busy" in held.facts and "mouth_busy" not in free.facts
    face = graph.get("pulling a face with tongue out and eyes crossed")
    assert face.conflict(held) is not None and face.conflict(free) is None


def test_a_stated_silence_takes_no_shouting_mouth():
    """Set 83: "After the funeral, they sit in silence ..." got "the people's eyes huge, mouth in
    a whoop" (both readers: a clash)."""
    graph = load_concept_graph()
    silent = parse_scene("After the funeral, they sit in silence on the church hall steps")
    loud = parse_scene("fans cheering on the terraces of a football stadium")
    for text in ("{poss} eyes huge, mouth in a whoop", "heads thrown back mid-laugh"):
        assert "silent" in (graph.get(text).clash(silent) or "")
        assert graph.get(text).clash(loud) is None
    # a silent scream is no shout; a kettle screaming and a whoopee cushion are no mouth
    for text in (
        "{poss} mouth open in a silent scream",
        "a boiling kettle screaming on the stove",
        "a whoopee cushion half hidden on a chair",
    ):
        assert "silent" not in (graph.get(text).clash(silent) or "")


def test_a_gaze_needs_open_eyes():
    """Set 83: "With her eyes closed, a pensioner floats on her back" got "gaze cast down"."""
    graph = load_concept_graph()
    closed = parse_scene("With her eyes closed, a pensioner floats on her back in a lido")
    concept = graph.get("{poss} shoulders slumped, gaze cast down")
    assert "eyes_shut" in (concept.clash(closed) or "")
    assert concept.clash(parse_scene("a pensioner floats on her back in a lido")) is None


def test_a_subject_eating_has_its_mouth_busy():
    """Set 83: "a paralegal eating noodles at her desk" got "mouth in a whoop"."""
    concept = load_concept_graph().get("{poss} eyes huge, mouth in a whoop")
    eating = parse_scene("a paralegal eating noodles at her desk at 10pm")
    assert "mouth_busy" in eating.facts
    assert concept.clash(eating) is not None
    assert "mouth_busy" not in parse_scene("a paralegal at her desk beside a bowl of noodles").facts


@pytest.mark.parametrize(
    ("scene", "fact"),
    [
        ("they whisper in a dark cinema", "silent"),
        ("we watch the fireworks from the roof of the car park", "watching"),
        ("they read by torchlight in a tent on a rainy night", "reading"),
    ],
)
def test_a_verb_after_they_we_or_i_states_what_its_third_person_does(scene, fact):
    """The facts vocabulary lists verbs as "whispers", "watches", "reads" (a base form alone is
    often a noun: "a whisper of wind", "a pocket watch"); after a plural pronoun the verb is in
    its base form. ("they whisper in a dark cinema" got "eyes huge, mouth in a whoop".)"""
    assert fact in parse_scene(scene).facts
    assert fact not in parse_scene(scene.replace(scene.split()[1], "sit", 1)).facts


def test_third_person_forms():
    from emotion_director.knowledge.scene.language import third_person

    assert [third_person(v) for v in ("whisper", "watch", "cry", "play", "go", "fix")] == [
        "whispers",
        "watches",
        "cries",
        "plays",
        "goes",
        "fixes",
    ]


def test_a_verb_stays_in_the_subject_when_nobody_knows_its_doer():
    """Set 87: "a streamer yelling into his headset ..." (fear) became "a streamer into his
    headset": no table knows a streamer as a person, so "yelling" read as a mood to remove."""
    prompt = "a streamer yelling into his headset in a box room lit by purple LED strips"
    assert fit_subject(parse_scene(prompt), prompt, "fear")[0] == prompt
    burning = "firefighters at a burning house"  # a thing described: still moved out
    assert fit_subject(parse_scene(burning), burning, "contentment")[0] == "firefighters at a house"


@pytest.mark.parametrize(
    ("scene", "absent", "stated"),
    [
        # set 92: "no wind, flames perfectly still" read as windy, and got "a gale ripping"
        ("an acolyte lighting oil lamps at a hilltop stupa at night, no wind", "windy", "still"),
        ("a dog on a beach under grey skies, not a drop of rain", "rain", None),
        ("a dog in a yard at dusk, no snow yet", "snowbound", None),
        ("a lantern on a porch, no rain or snow", "rain", None),
        ("a lamp on a table at night, no moon", "moon", "moonless"),
        ("a dog on a beach, not a cloud in the sky", "overcast", "clear"),
    ],
)
def test_what_a_scene_denies_it_does_not_state(scene, absent, stated):
    facts = parse_scene(scene).facts
    assert absent not in facts
    assert stated is None or stated in facts
    if absent not in {"moon", "overcast"}:  # the same words without the denial state it
        plain = scene.replace("no ", "", 1).replace("not ", "", 1)
        assert absent in parse_scene(plain).facts


@pytest.mark.parametrize(
    ("scene", "stated", "not_stated"),
    [
        # a review's finds: the words after a denied one do not join its negator
        ("a ferry deck, no passengers, wind howling", "windy", "still"),
        ("a quiet beach, no tourists, clouds rolling in", "clouds", "cloudless"),
        ("rain? no, snow", "snowbound", None),
        # a key ends its phrase; a letter that lowers to two does not shift the words
        ("a valley with no wind turbines, gusts bending the grass", None, "still"),
        ("an aquarium tank, no moon jellyfish today", None, "moonless"),
        ("İstanbul rooftops, no wind, rain falling", "rain", "windy"),
        # the first word is always denied; "of" carries a denial on
        ("a field at noon, not rainy", None, "rain"),
        ("a dog on a beach, not a single drop of rain", None, "rain"),
    ],
)
def test_a_denial_keeps_to_its_own_words(scene, stated, not_stated):
    facts = parse_scene(scene).facts
    assert stated is None or stated in facts
    assert not_stated is None or not_stated not in facts


@pytest.mark.parametrize(
    "scene",
    [
        "a child peeking out from behind a curtain",
        "a poker player at a table, cards face down",
        "a cat beside her book face-down on the table",
        "a boy with his face pressed into the window glass",
    ],
)
def test_a_face_hidden_is_the_subjects_own(scene):
    assert "face_hidden" not in parse_scene(scene).facts


def test_a_denial_ends_at_its_phrase():
    """'without a coat in the rain' denies the coat, not the rain; a mark ends a denial."""
    assert "rain" in phrase_facts("a man without a coat in the rain")
    assert "night" in phrase_facts("no footprints, night")
    assert "clear" not in phrase_facts("no footprints, night")


@pytest.mark.parametrize(
    "scene",
    [
        # set 92: towering cumulus filling the sky for a budgie on a bookshelf
        "budgie bathing in a teacup on a bookshelf, morning sun, close-up",
        "cat sleeping on a windowsill next to a potted cactus, afternoon sun",
        "a dog on a sofa in the sun",
    ],
)
def test_a_sun_beside_a_thing_of_a_room_shines_in_through_a_window(scene):
    facts = parse_scene(scene).facts
    assert "indoor" in facts and "outdoor" not in facts


@pytest.mark.parametrize(
    ("scene", "time"),
    [
        ("a laundromat at 3 a.m., one dryer still spinning", "night"),
        ("teen gamer yelling at the screen, 1am, only monitor glow", "night"),
        ("a paralegal eating noodles at her desk at 10pm", "night"),
        ("a nurse on her break at 12:30 AM", "night"),
        ("a cafe at 3 in the morning", "night"),  # not the morning its last word says
        ("a cafe at 7 in the morning", "morning"),
        ("a bin lorry on a rainy street at 5am", "twilight"),
        ("two kids on a beach at 12 p.m.", "midday"),
        ("a porter asleep on a bench, 4 in the afternoon", "afternoon"),
        ("a bus stop at 17:45", "evening"),
        ("a baker at 04:00", "night"),
        ("a fox crossing a lane at 5 at night", "night"),
        ("a cafe, 3 in the morning", "night"),
        ("a bartender at 11 at night", "night"),
        ("a web press in a printing plant at two in the morning", "night"),
        ("a nine am meeting in a boardroom", "morning"),
    ],
)
def test_a_clock_time_states_its_part_of_the_day(scene, time):
    """Digits are no words to the parser: "a laundromat at 3 a.m." stated no time at all."""
    facts = parse_scene(scene).facts
    assert time in facts
    assert time == "night" or "night" not in facts
    assert time != "night" or not facts & {"day", "morning", "midday"}


@pytest.mark.parametrize(
    "scene",
    [
        "a dollhouse roof at 1:12 scale",
        "a clerk at 7:30",
        "a 5 amp fuse on a workbench",
        "a book priced at 19.50 in a shop window",
    ],
)
def test_numbers_that_are_no_clock_time_state_no_time(scene):
    assert parse_scene(scene).time_of_day is None


def test_a_number_spelled_out_is_an_hour_only_after_a_word_of_time():
    assert "night" not in parse_scene("the two in the morning mist by the lake").facts
    assert "evening" in parse_scene("a candlelit table for 2 in the evening").facts
    assert "night" in parse_scene("a baker until two in the morning").facts


@pytest.mark.parametrize(
    "scene",
    [
        # set 95: "high-angle shot looking down on the balloonist"
        "a balloonist drifting low over a burning refinery at night, seen from below",
        "mailman being chased by a tiny chihuahua, frosty morning, shot from behind",
        "a glass skyscraper reflecting clouds, shot from street level looking up",
        # set 105: "worm's-eye view straight up at the dinnerlady" on a security camera still
        "a dinnerlady wiping tables in the empty college buttery, security camera still",
        "a fox raiding the bins at night, CCTV footage",
    ],
)
def test_where_the_camera_stands_is_the_users_framing(scene):
    assert "framed" not in parse_scene("a security camera mounted on a brick wall").facts
    facts = parse_scene(scene).facts
    assert look_conflict("composition", "high-angle shot looking down on {the}", facts)


def test_a_mirror_is_no_camera_position():
    assert "framed" not in parse_scene("a cracked rear view mirror on a lonely road").facts


def test_a_light_from_below_is_no_camera_position():
    assert "framed" not in parse_scene("a goat on a car roof, lit from below by a lamp").facts
    assert "framed" not in parse_scene("an octopus under shafts of light from above").facts


@pytest.mark.parametrize(
    ("scene", "look"),
    [
        # set 96: a pink palette on a cyanotype, a warm palette in film noir (both readers)
        ("an ornithologist in a reed blind at first light, printed as a cyanotype.", "monochrome"),
        ("a 1940s detective lighting a pipe in a tobacconist's, film noir.", "monochrome"),
        ("a fox in the snow, shot in black and white", "monochrome"),
        # a photograph of before colour film (set 105: a neon palette on a "1920s photo")
        ("a bootlegger hiding crates in a winery at midnight, 1920s photo", "monochrome"),
        ("a fishwife gutting herring on the quay, Victorian photograph", "monochrome"),
        ("a dog on a porch, rendered as pixel art", "drawn"),
    ],
)
def test_a_look_named_after_a_verb_of_making_is_the_pictures(scene, look):
    assert look in parse_scene(scene).facts


@pytest.mark.parametrize(
    "scene",
    [
        "a man shot in the leg",
        "a girl in a black and white dress",
        "a 1920s flapper dancing the charleston",
        "a hand-coloured 1890s photograph of a fishwife",
        # (a review: a period thing photographed now, a photo booth, a colour process)
        "a victorian house photo at golden hour",
        "a 1920s photo booth in a neon arcade",
        "a 1930s technicolor photo of a parade",
    ],
)
def test_a_verb_of_making_alone_names_no_look(scene):
    assert not {"monochrome", "drawn", "framed"} & parse_scene(scene).facts


def test_a_crowded_place_is_full_of_people_and_a_thing_crowded_with_things_is_not():
    # set 96: "sparse horizontal frame with a low horizon" at a crowded steakhouse
    assert "crowd" in parse_scene("birthday candles at a crowded steakhouse").facts
    assert "crowd" in parse_scene("a bustling spice souk in Marrakech at dusk").facts
    assert "crowd" not in parse_scene("a ship beneath a sky crowded with stars").facts
    assert "crowd" not in phrase_facts("{the} crowded by clutter at the frame edges")


def test_a_clock_time_leaves_the_scene_text_as_written():
    scene = parse_scene("a laundromat at 3 a.m.")
    assert scene.text == "a laundromat at 3 a.m."
    assert [e.noun for e in scene.entities] == ["laundromat"]


def test_a_sun_alone_or_beside_a_place_outdoors_is_outdoors():
    assert "outdoor" in parse_scene("a dog in the sun").facts
    assert "outdoor" in parse_scene("a picnic table in a park, morning sun").facts


def test_a_face_turned_away_shows_no_expression():
    """Set 92: "a faint smile" for a preschooler asleep face-down, seen from overhead."""
    facts = parse_scene("a preschooler asleep face-down on a futon, overhead shot").facts
    assert look_conflict("body_language", "{poss} shoulders dropped, a faint smile", facts)
    assert look_conflict("light", "soft golden hour glow", facts) is None
    awake = parse_scene("a preschooler asleep on a futon, overhead shot").facts
    assert look_conflict("body_language", "{poss} shoulders dropped, a faint smile", awake) is None


def test_a_noun_in_ing_is_no_participle_in_a_gap():
    """ "a bright spring afternoon" is a bright afternoon (set 92 got grey light in a sunroom);
    "a bright lamp, grey afternoon" is not, nor is "a bright kitchen painting afternoon"."""
    assert "sunny" in parse_scene("a schnauzer in a sunroom, bright spring afternoon").facts
    assert "sunny" not in phrase_facts("a bright kitchen painting afternoon")


def test_a_sky_said_to_have_no_cloud_takes_no_clouds():
    """Set 93: "not a cloud" on a July noon got "clouds shaped like animals filling the upper
    frame"; a sunny sky alone still takes them, and "clouds of dust" are no sky."""
    cloudless = parse_scene("my aunt playing pickleball at noon in july, not a cloud").facts
    assert contradiction(cloudless, "clouds shaped like animals filling the upper frame")
    sunny = parse_scene("my aunt playing pickleball on a sunny july noon").facts
    assert contradiction(sunny, "clouds shaped like animals filling the upper frame") is None
    assert contradiction(cloudless, "clouds of dust kicked up by the ball") is None


def test_an_overhead_drone_shot_looks_straight_down():
    # set 93: a Kecak chorus "..., overhead drone shot" got towering cumulus filling the sky
    facts = parse_scene("a chorus chanting around a fire at sunset, overhead drone shot").facts
    assert "downward_view" in facts


def test_an_afternoon_is_not_yet_dusk():
    # in the blind labels of sets 1-92, dusk lines in afternoon scenes clashed in 6 of 8 readings
    afternoon = parse_scene("a reporter on a breakwater in a storm on a grey afternoon").facts
    assert contradiction(afternoon, "the underside of the clouds glowing orange at dusk")
    both = parse_scene("a picnic in the park from the afternoon into the evening").facts
    assert contradiction(both, "the underside of the clouds glowing orange at dusk") is None


@pytest.mark.parametrize(
    "scene",
    [
        "teen gamer yelling at the screen with headset on, 1am, only monitor glow",
        "a feast in a longhouse, elders pouring rice wine, only oil lamps",
        "two senators gossiping in the steam of a bathhouse, lamplight only",
        "a soprano rehearsing alone in a dark auditorium under a single bare bulb",
    ],
)
def test_a_scene_that_names_its_only_light_takes_no_light_of_another_colour(scene):
    facts = parse_scene(scene).facts
    assert look_conflict("light", "lemon-yellow rim light with a pink fill", facts)
    assert look_conflict("light", "deep shadow with a thin rim of light", facts) is None
    lit = parse_scene("teen gamer yelling at the screen at 1am").facts
    assert look_conflict("light", "lemon-yellow rim light with a pink fill", lit) is None


@pytest.mark.parametrize(
    "scene",
    [
        # set 96: "bright high-key light with barely a shadow" for candlelight (a user's reading)
        "regency footman yawning in the anteroom during a grand dance, candlelight, oil painting",
        "lone shopper at a broken turnstile in an empty mall, 2am, flickering lights, no staff",
        "a red vintage vespa parked outside a cafe in rome, morning light",
        "drive-thru window at midnight, hand passing fries into a car, neon glow",
        # set 98 (a dev reading of the final run): each got a light of its own
        "a godfather and his godson sharing bibimbap on a rainy Sunday evening, single lamp",
        "A troubadour in tears, playing his lute to an empty chancel by a single candle.",
        "a paanwala calmly folding betel leaves under a single bulb, late at night",
        "A recruiter packing her lanyard into a cardboard box, overcast light through the blinds.",
        # set 99 (final, read as a user): "dim blue hour light fading" was added
        "a bichon waiting with its lead in its mouth, evening light through frosted glass",
    ],
)
def test_a_light_named_as_an_item_of_the_scene_is_its_light(scene):
    """The scene says how it is lit, so no light is added (in the blind labels of sets 1-39 an
    added light clashed in 25 of 87 such scenes' phrases, against 332 of 1,992 elsewhere)."""
    model = parse_scene(scene)
    rim = load_concept_graph().get("rim light glowing around the silhouette")
    assert rim.conflict(model) == "the scene already states its light"


@pytest.mark.parametrize(
    "scene",
    [
        "a fox in the snow, light snow falling",  # no light: the snow is light
        "a harbour at dusk, a lighthouse, gulls",
        "a bedroom, a cat on the bed",
        "a gardener planting tulips from bulbs in spring",  # a review
    ],
)
def test_an_item_that_is_no_light_states_none(scene):
    rim = load_concept_graph().get("rim light glowing around the silhouette")
    assert rim.conflict(parse_scene(scene)) != "the scene already states its light"


def test_a_hard_backlight_is_refused_under_an_overcast_sky():
    """Set 94: "harsh red backlight" for a dogwalker on an overcast esplanade (both readers); in
    the labels of sets 1-94 it clashed in 7 of 18 overcast scenes and none of 43 rainy ones."""
    backlight = load_concept_graph().get("harsh red backlight")
    assert backlight.conflict(parse_scene("a dogwalker on a windy esplanade, overcast"))
    assert backlight.conflict(parse_scene("a neon alley in the rain at night")) is None


def test_a_close_up_shows_no_distance():
    """Set 100: "extreme close-up of a gemcutter's tweezers lifting a raw sapphire to a loupe"
    got "soft light fading gradually into the distance" (a clash to its strict reader)."""
    graph = load_concept_graph()
    close = parse_scene("extreme close-up of a gemcutter's tweezers lifting a raw sapphire")
    open_view = parse_scene("a gemcutter lifting a raw sapphire to a loupe in a workshop")
    for text in (
        "soft light fading gradually into the distance",
        "crisp fine detail from the foreground to the far edge",
    ):
        concept = graph.get(text)
        assert concept.conflict(close) is not None, text
        assert concept.conflict(open_view) is None, text
    # the felt of a felt-tip pen, or a feeling, is no modelled medium
    pixel = parse_scene("pixel art of roller-skating kazooists at a rollerdisco").facts
    assert look_conflict("object", "a felt-tip pen drawing on the wall", pixel) is None


def test_a_picture_made_of_stained_glass_is_of_its_subject_not_a_church_window():
    """Set 100: "stained glass window of a coalman carrying sacks through a mining township" was
    read as a church window, indoors, and got "a coat still hanging on its hook"."""
    scene = parse_scene(
        "stained glass window of a coalman carrying sacks through a mining township"
    )
    assert scene.main.noun == "coalman" and "drawn" in scene.facts
    assert not {"indoor", "culture"} & scene.stated
    assert look_conflict("texture", "grainy film texture and heavy vignette", scene.facts)
    # its look stays the picture's; a window in a chapel is still a church's
    assert "stationary" in parse_scene("still life of pears on a table").stated
    assert "indoor" in parse_scene("a stained glass window in a chapel").stated
    mosaic = parse_scene("mosaic of a fisherman mending nets")
    assert mosaic.main.noun == "fisherman" and "drawn" in mosaic.facts


def test_set_101_media_light_and_views_the_readers_found_overruled():
    """Set 101, both readers: a flash snapshot and a photo-booth strip on a comic panel, a
    photo-booth strip on a phone flash photo, plasticine on a Kodachrome snapshot, a palette on
    an etching (the strict reader), stark light in thick fog, light fading into the distance
    under a drone shot straight down, a light added where "one lantern burning" or "buzzing
    fluorescent tubes" light the scene."""
    graph = load_concept_graph()
    comic = parse_scene("A sunburnt legionary asleep at the milecastle, comic panel.")
    assert comic.main.noun == "legionary" and "drawn" in comic.facts
    strip = "a photo-booth strip of four frames of {the}"
    assert look_conflict("composition", strip, comic.facts)
    phone = parse_scene("hubby passed out on the settee at 2am, phone flash photo").facts
    assert look_conflict("composition", strip, phone)
    kodachrome = parse_scene("greenkeeper chasing a runaway mower, 1970s Kodachrome snapshot")
    assert look_conflict("texture", "sticky bright plasticine textures", kodachrome.facts)
    assert look_conflict("composition", strip, parse_scene("a dog in a park").facts) is None
    etching = parse_scene("aeronaut lifting off in a silk balloon over Versailles, etching")
    assert {"drawn", "monochrome"} <= etching.facts
    stark = graph.get("stark high-contrast light with crushed black shadows")
    assert stark.conflict(parse_scene("cox screaming at a crew through thick river fog"))
    assert stark.conflict(parse_scene("cox screaming at a crew on a river")) is None
    fading = graph.get("soft light fading gradually into the distance")
    down = parse_scene("drone shot straight down over a motorway cloverleaf at dusk")
    assert fading.conflict(down) is not None
    assert "downward_view" not in parse_scene("a boy looking straight down into a well").facts
    for prompt in (
        "old whittler carving a tiny bird in an empty byre, one lantern burning",
        "my deskmate clipping his toenails at the hotdesk under buzzing fluorescent tubes",
    ):
        assert "lit" in parse_scene(prompt).facts, prompt
    assert "lit" not in parse_scene("a cat among tubes of paint").facts


@pytest.mark.parametrize(
    "prompt",
    [
        "girl looking straight down the lens, freckles, golden hour on a hillside",
        "rain falling straight down on a cobbled street at night",
        "man walking straight down the middle of an empty road at dawn",
    ],
)
def test_straight_down_is_a_camera_s_view_only_when_a_shot_says_so(prompt):
    """A review: "straight down" alone took the sky and the distance from ordinary scenes."""
    assert "downward_view" not in parse_scene(prompt).facts


@pytest.mark.parametrize(
    "prompt",
    [
        "a rich tapestry of market stalls in Marrakech at dusk",
        "a tapestry of stars above a lone camper in the desert",
        "a colourful mosaic of umbrellas on a rainy street",
        "nervous stand-up comic, spotlight, brick wall",
    ],
)
def test_a_figure_of_speech_or_a_comedian_is_no_medium(prompt):
    """A review: "a tapestry of stars", "a mosaic of rice paddies" and a stand-up comic made the
    picture drawn, which refused every photographic look."""
    assert "drawn" not in parse_scene(prompt).facts


def test_a_medium_s_words_take_no_place_the_rest_of_the_scene_states():
    """A review: "stained glass window of a bride and groom in a church" lost its church."""
    wedding = parse_scene("stained glass window of a bride and groom in a church")
    assert "culture" in wedding.stated and "drawn" in wedding.facts
    assert "window" in parse_scene("stained glass window of a cat sleeping by a window").facts
    # in colour, an etching or an engraving has colour; things of felt are things
    for prompt in ("hand-coloured engraving of a parrot", "colour etching of a harbour at dusk"):
        assert "monochrome" not in parse_scene(prompt).facts, prompt
    assert look_conflict("object", "a knitted hat with a pom-pom", {"photographed"}) is None
    assert look_conflict("object", "fuzzy felt slippers", {"drawn"}) is None
    assert "open_air" not in stated_tags(frozenset({"outdoor", "submerged"}))


def test_a_view_over_a_place_is_of_the_place_and_a_covered_face_shows_nothing():
    """Set 101's re-read (both readers): "drone shot straight down over a motorway cloverleaf"
    got a halo "behind the straight"; a legionary "with his helmet over his face" got a big nose
    in a caricature close-up."""
    for prompt, noun in (
        ("drone shot straight down over a motorway cloverleaf at dusk", "cloverleaf"),
        ("overhead shot looking straight down at a chessboard", "chessboard"),
        ("aerial view over a harbour", "harbour"),
    ):
        assert parse_scene(prompt).main.noun == noun, prompt
    assert parse_scene("a room with a view over the sea").main.noun == "room"
    nose = load_concept_graph().get("caricature-like wide-angle close-up with a big nose in front")
    legionary = parse_scene("a sunburnt legionary asleep at the milecastle, helmet over his face")
    assert "face_hidden" in legionary.facts and nose.conflict(legionary) is not None
    assert "face_hidden" not in parse_scene("a man with a grin spreading over his face").facts


def test_set_102_stated_light_and_media_the_readers_found_overruled():
    """Set 102, both readers: red low-key light under the "white glare of floodlights", soft even
    light under "low afternoon sun through the blinds", a flash snapshot on a "medieval manuscript
    style" picture, comic-strip framing with bold outlines on a polaroid."""
    for prompt in (
        "a sabreur ripping off her mask to yell at the referee, white glare of floodlights",
        "Steam curling off a hotpot on a countertop, low afternoon sun through the blinds.",
    ):
        assert "lit" in parse_scene(prompt).facts, prompt
    manuscript = parse_scene("a villein sloshing through muck, medieval manuscript style").facts
    assert look_conflict("composition", "harsh flash snapshot close-up", manuscript)
    polaroid = parse_scene("a lass wrapped like a mummy in a fitted sheet, polaroid").facts
    assert look_conflict("composition", "comic-strip panel framing with bold outlines", polaroid)


def test_set_103_a_passed_out_subject_and_a_serious_one_show_no_lively_face():
    """Set 103, both readers: "the missus passed out on the sunporch" got raised eyebrows and a
    tongue-out face; "a palmist at a highland ceilidh squinting very seriously" got eyebrows
    shot up to the hairline."""
    graph = load_concept_graph()
    eyebrows = graph.get("{poss} eyebrows shot up to the hairline")
    missus = parse_scene(
        "the missus passed out on the sunporch with a jaffle balanced on her chest"
    )
    assert "asleep" in missus.facts and eyebrows.conflict(missus) is not None
    assert "asleep" not in parse_scene("she passed out flyers to commuters").facts
    palmist = parse_scene("a palmist at a highland ceilidh squinting very seriously at a paw")
    assert [(a.word, a.owner) for a in palmist.attributes] == [("seriously", "palmist")]
    assert eyebrows.conflict(palmist) == "the palmist is serious, as the scene says"
    assert parse_scene("a calmly flowing river").attributes == []


def test_a_photograph_in_a_drawn_picture_is_a_thing_in_it():
    """An old photograph someone clutches is drawn as any thing is; only a photograph's look is
    refused."""
    sketch = parse_scene("pencil sketch of a widow at a window").facts
    assert look_conflict("action", "clutching an old photograph", sketch) is None
    assert look_conflict("object", "a faded photograph propped against {the}", sketch) is None


@pytest.mark.parametrize(
    ("prompt", "noun"),
    [
        ("a huntsman the size of a dinner plate on the ute's sun visor", "huntsman"),
        ("hailstones the size of golf balls bouncing off a car", "hailstones"),
        ("a cat the size of a dog", "cat"),
    ],
)
def test_a_size_likened_to_a_thing_is_no_thing_in_the_scene(prompt, noun):
    """Set 103 (both readers): "a huntsman the size of a dinner plate on the ute's sun visor" got
    "a high-angle shot looking down on the size"."""
    scene = parse_scene(prompt)
    assert scene.main.noun == noun and "size" not in {e.noun for e in scene.entities}
    assert scene.text == prompt  # the user's words stay as typed


def test_a_home_named_as_a_thing_puts_no_one_indoors():
    """Set 103 (both readers): "a pargeter whistling as he decorates a cottage in a sunny Devon
    combe" was read as indoors (the cottage a home), so its sun stopped counting and "soft dim
    light fading into grey" passed. A home the subjects are in is still indoors."""
    grey = load_concept_graph().get("soft dim light fading into grey")
    for prompt in (
        "a pargeter whistling as he decorates a cottage in a sunny Devon combe",
        "a moving van pulling away from a farmhouse on a sunny afternoon",
    ):
        scene = parse_scene(prompt)
        assert {"indoor", "home", "table"}.isdisjoint(scene.stated), prompt
        assert "sunlit" in scene.stated and grey.conflict(scene) is not None, prompt
    inside = parse_scene("a girl reading in a cottage on a sunny afternoon")
    assert {"indoor", "home"} <= inside.stated


@pytest.mark.parametrize(
    ("prompt", "look"),
    [
        # a word or two of the process between the decade and the photo
        ("1910s expedition photo of a sealer hauling a sledge across sastrugi", "monochrome"),
        (
            "a mucker shovelling silt by lantern light, 1870s black-and-white glass-plate photo",
            "monochrome",
        ),
        ("oil painting still life of lemons, a pewter jug and a plate of oysters", "drawn"),
        # the user's own colours: a clause of colour words with no article in it
        ("a bored saleswoman folding cardigans in an emporium, muted greys", "palette"),
        ("a rabbi cutting a honey cake in a sunlit schoolroom, warm palette", "palette"),
        ("a spinster on a swingset with a book, soft pinks and blues", "palette"),
    ],
)
def test_set_108_the_look_the_user_chose(prompt, look):
    """Set 108, both readers: a grape purple and sherbet orange palette on an 1870s black-and-
    white glass-plate photo, a laser green and sunflower yellow one over "muted greys", a liver
    purple and bile green one over "warm palette"."""
    facts = parse_scene(prompt).facts
    assert look in facts, prompt
    if look != "drawn":
        assert look_conflict("colour", "laser green and sunflower yellow palette", facts)


@pytest.mark.parametrize(
    "prompt",
    [
        "a Victorian house photo",
        "1920s hand-tinted photo of a beach",
        "a painter holding her palette in a studio",
        "a man singing the blues on a porch",
        "a blues guitarist on a porch",
        # (a review of the session: the animal's or the rug's colours, and things named by a
        # hue, are no look of the picture)
        "black and white cow print rug in a sunny living room",
        "a black and white border collie shot at the beach",
        "a black and white dog portrait",
        "a market stall in Seville, fresh oranges",
        "a golf course at dawn, manicured greens",
        "a jazz club, smoky blues",
    ],
)
def test_set_108_a_thing_s_colours_are_no_chosen_look(prompt):
    facts = parse_scene(prompt).facts
    assert not facts & {"monochrome", "palette"}, prompt


def test_set_108_a_rabbi_is_a_person_and_sleet_leaves_no_hard_sun():
    """Set 108, both readers: "a beaming rabbi" was an object (a title of respect, WordNet's other
    sense, made the word's kind unsure) and got "the rabbi with a clump of wet hair caught on
    it"; a carter brawling in sleet got "harsh top light throwing black shadows across their
    eyes"."""
    rabbi = parse_scene("a beaming rabbi cutting a honey cake for children in a schoolroom")
    assert rabbi.main.noun == "rabbi" and rabbi.main.kind == "person"
    carter = parse_scene("a bare-knuckled carter brawling with a rival in sleet, wood engraving")
    top = load_concept_graph().get("harsh top light throwing black shadows across {poss} eyes")
    assert top.conflict(carter) is not None


@pytest.mark.parametrize(
    ("prompt", "period"),
    [
        ("a drunken gauger retching out of a horse-drawn omnibus, 1880s London fog", True),
        ("aeronaut lifting off in a silk balloon over Versailles in 1783, etching", True),
        ("a moneylender counting coins in a barbican, 14th century, chiaroscuro", True),
        ("victorian ragpicker girl sorting scraps on a foggy mudflat", True),
        ("a herald on a sunlit parapet, medieval tapestry style", True),
        ("a corpse flower inside a packed Victorian palm house", False),
        ("a reenactor in full Roman armour eating candyfloss at a county show", False),
        ("a Georgian baker slapping dough onto a tone oven in a Kutaisi basement", False),
        ("a 1950s diner at night", False),
        ("a runner finishing a 1500 metre race", False),
        ("a marathon of 1500 runners under stadium floodlights", False),
        ("a Roman taxi driver smoking outside the station at night", False),
        ("an ancient fisherman mending nets under a streetlamp", False),
        ("a Victorian house, children playing on the steps", False),
        # set 111: a year was read only after "in" or "of"
        ("Woodcut of a 1665 plague searcher pressing a rag over her nose in a dosshouse", True),
        ("a hansom clattering along a gaslit Whitechapel thoroughfare in thick fog, 1888", True),
        ("an orchestra playing the 1812 Overture under stage lights", False),
        ("a mechanic tuning a 1200 cc engine", False),
        ("a nurse in room 1204, night shift", False),
        ("the 1984 olympics, a sprinter at the line", False),
    ],
)
def test_set_108_a_scene_before_electric_light_takes_none(prompt, period):
    """Set 108, both readers: "a drunken gauger retching out of the window of a crowded
    horse-drawn omnibus, 1880s London fog" got "sweaty overhead strip light"; set 111, both:
    "Woodcut of a 1665 plague searcher ... in a Southwark dosshouse" got "purple UV light
    revealing stains on the searcher". A scene set before electric light refuses electric
    lights (an ultraviolet lamp too) and machines, not colours named after them."""
    scene = parse_scene(prompt)
    assert ("period" in scene.facts) is period, prompt
    for light in ("sweaty overhead strip light", "purple UV light revealing stains on {the}"):
        tags = concept_settings()[light]
        assert "electric" in tags
        refused = ruled_out(tags - {"indoor"}, scene.stated)
        assert (refused is not None and "period" in refused) is period, (prompt, light, refused)
    # a colour named after a neon light or an ultraviolet one is a colour
    assert "electric" not in concept_settings()["neon orange on deep purple"]
    assert "electric" not in concept_settings()["ultraviolet purple and gold glitter"]


def test_set_108_a_coloured_haze_is_light_and_a_close_up_holds_no_whole_place():
    """Set 108, both readers: a grasshopper "in sunlit Provencal garrigue, lavender haze" got "a
    sulphurous yellow fog" (the haze was read as fog); "a hornet crawling out of the plughole of
    a washbasin, extreme close-up" got "a dark doorway at the end of a corridor"."""
    graph = load_concept_graph()
    garrigue = parse_scene("a grasshopper on a sprig of thyme in sunlit garrigue, lavender haze")
    assert "fog" not in garrigue.facts and "sunlit" in garrigue.stated
    assert graph.get("a sulphurous yellow fog").conflict(garrigue) is not None
    assert "fog" in parse_scene("a harbour in grey morning haze").facts
    assert "fog" in parse_scene("a smoggy city under a brown haze").facts  # smog, not light
    hornet = parse_scene(
        "a hornet crawling out of the plughole of a washbasin, extreme close-up, "
        "harsh fluorescent light"
    )
    corridor = graph.get("a dark doorway at the end of a corridor")
    assert "close up" in (corridor.conflict(hornet) or "")
    assert look_conflict("space", "a cluttered playroom", {"indoor"}) is None


def test_set_109_a_look_needs_open_eyes():
    """Set 109, both readers: a viscacha sunbathing "with eyes half closed" got "keyhole-shaped
    framing with the viscacha peeking back at the lens". Peeking, peering, staring and glaring
    are done with open eyes; a toy's peeking is the toy's."""
    settings = concept_settings()
    assert "open_eyes" in settings["keyhole-shaped framing with {the} peeking back at the lens"]
    assert "open_eyes" in settings["{poss} arms crossed tight, glaring"]
    assert "open_eyes" not in settings["a tiny toy dinosaur peeking out from behind {the}"]
    viscacha = parse_scene(
        "A viscacha sunbathing with eyes half closed on a lichen-crusted boulder at golden hour"
    )
    keyhole = load_concept_graph().get("keyhole-shaped framing with {the} peeking back at the lens")
    assert "eyes_shut" in (keyhole.conflict(viscacha) or "")


def test_set_110_the_look_the_user_chose():
    """Set 110, both readers: "Aerial view of hundreds of wigeon ..., pale blue and silver
    palette" got "the palette covered in frost ferns"; a phone snapshot got a "square
    instant-photo frame with a thick white border"; a Victorian albumen print cherry red and sky
    blue colour blocking; a balloon-twister in a "brightly painted angkot" and a playleader in a
    "cheerful, primary-coloured" kita got faded sepia and ashen grey palettes."""
    wigeon = parse_scene(
        "Aerial view of hundreds of wigeon lifting off a frozen polje at first light, pale blue "
        "and silver palette"
    )
    assert "palette" not in {e.noun for e in wigeon.entities + wigeon.places}
    instant = "square instant-photo frame with a thick white border"
    phone = parse_scene("Phone snapshot of a merchandiser balancing toilet rolls on his head")
    assert look_conflict("composition", instant, phone.facts, preferences=False)
    polaroid = parse_scene("a polaroid of a girl at a party")
    assert look_conflict("composition", instant, polaroid.facts, preferences=False) is None
    albumen = parse_scene("Victorian albumen print of a mesmerist in a farm cookhouse")
    assert "monochrome" in albumen.facts
    graph = load_concept_graph()
    sepia = graph.get("faded sepia and ash palette")
    for prompt in (
        "a balloon-twister staring blankly from the back of a brightly painted angkot, noon sun",
        "a playleader shielding toddlers in a cheerful, primary-coloured Berlin kita",
    ):
        assert "colourful" in (sepia.conflict(parse_scene(prompt)) or ""), prompt
    assert sepia.conflict(parse_scene("a tenor in a rainbow clown wig at a birthday")) is None


def test_an_instant_photo_s_border_is_no_older_than_instant_photos():
    """The session's final outputs: "A mucker shovelling silt ... by lantern light, 1870s
    black-and-white glass-plate photo" got "square instant-photo frame with a thick white
    border"."""
    frame = load_concept_graph().get("square instant-photo frame with a thick white border")
    mucker = parse_scene(
        "A mucker shovelling silt at the bottom of a flooded caisson by lantern light, 1870s "
        "black-and-white glass-plate photo"
    )
    assert "period" in (frame.conflict(mucker) or "")
    assert "electric" in concept_settings()["a photo-booth strip of four frames of {the}"]


def test_a_light_s_glare_named_as_an_item_is_the_scene_s_light():
    """Set 110, both readers: "a trichologist ... from the drain of a communal wetroom,
    ring-light glare" got "dim murky light with a green cast"."""
    murky = load_concept_graph().get("dim murky light with a green cast")
    wetroom = parse_scene(
        "A trichologist wrinkling her nose at a clump of hair pulled from the drain of a "
        "communal wetroom, ring-light glare"
    )
    assert "lit" in wetroom.facts and murky.conflict(wetroom) is not None
    assert "lit" in parse_scene("a violinist on a platform at midnight, fog and yellow lamps").facts
    assert "lit" not in parse_scene("a man at a drain, no lights").facts


@pytest.mark.parametrize(
    ("prompt", "palette"),
    [
        ("a siamang hunched in a derelict dolphinarium, in a pale lilac and grey palette", True),
        ("a fox asleep in the snow, with a muted palette", True),
        ("a painter dabbing at a canvas, in a painter's palette", False),
        ("a boy in a red coat", False),
    ],
)
def test_set_111_a_palette_after_in_or_with_is_the_users_colours(prompt, palette):
    """Set 111, both readers: "..., in a pale lilac and grey palette" got "yellowed paper and
    faded ink tones": a palette clause was read only without a preposition and an article."""
    scene = parse_scene(prompt)
    assert ("palette" in scene.facts) is palette, prompt
    tones = load_concept_graph().get("yellowed paper and faded ink tones")
    assert (tones.conflict(scene) is not None) is palette, prompt


@pytest.mark.parametrize(
    ("prompt", "noun", "facts"),
    [
        (
            "Muted grey oil painting of a mercer sitting on a charred strongbox in smouldering "
            "Cheapside at dawn, September 1666, his bolts of silk reduced to ash",
            "mercer",
            {"drawn", "period"},
        ),
        (
            "Illuminated manuscript page of a Cistercian cellarer warming his hands by the only "
            "fire in a calefactory on a snowy January evening",
            "cellarer",
            {"drawn"},
        ),
        (
            "Daguerreotype of a weary chapman slumped on his unsold pack outside a shuttered "
            "smiddy, snow on his hat brim, winter 1848",
            "chapman",
            {"monochrome", "period"},
        ),
        ("a muted trumpet player on a stage in may 1999", "player", set()),
    ],
)
def test_set_112_a_toned_medium_a_manuscript_page_and_a_month_s_year(prompt, noun, facts):
    """Set 112, both readers: "Muted grey oil painting of a mercer ..." made the painting the
    subject ("the painting small and isolated in negative space"), and "Illuminated manuscript
    page of a Cistercian cellarer" the page (it got film grain); "September 1666" and "winter
    1848" did not date their scenes."""
    scene = parse_scene(prompt)
    assert scene.main.noun == noun
    assert facts <= scene.facts and not ({"drawn", "period"} - facts) & scene.facts, prompt
    if "drawn" in facts:
        grain = load_concept_graph().get("soft fine film grain")
        assert grain.conflict(scene) is not None


def test_set_112_high_key_light_is_daylight():
    """Set 112, both readers: a linocut of a guiser "in a windswept Highland clachan on Halloween
    night" got "bright high-key light with barely a shadow"."""
    high_key = load_concept_graph().get("bright high-key light with barely a shadow")
    night = parse_scene(
        "Linocut of a small guiser telling a joke in a windswept Highland clachan on "
        "Halloween night"
    )
    assert "diurnal" in (high_key.conflict(night) or "")
    for scene in ("a dog in a park", "a bakery at dawn", "a studio portrait of a dancer"):
        assert high_key.conflict(parse_scene(scene)) is None, scene


@pytest.mark.parametrize(
    ("prompt", "noun"),
    [
        (
            "Grainy black-and-white film still of a physicist in a lead apron backing away "
            "from a glowing core",
            "physicist",
        ),
        ("Security camera still of a barmaid locking up alone in a fog-filled vennel", "barmaid"),
        ("a movie still of a cowboy at a saloon door", "cowboy"),
        ("a heron standing still in a reed bed", "heron"),
        ("still life of pears on a windowsill", "pear"),
    ],
)
def test_set_113_a_still_of_a_film_or_a_camera_is_the_picture(prompt, noun):
    """Set 113, both readers: "Grainy black-and-white film still of a physicist ..." had the film
    as its subject and got "a shape looming out of focus behind the film"."""
    assert parse_scene(prompt).main.noun in (noun, noun + "s")


@pytest.mark.parametrize(
    ("prompt", "noun"),
    [
        (
            "1970s Kodachrome slide of a skycap waiting beside an empty luggage cart in a deserted "
            "airport arrivals hall late at night",
            "skycap",
        ),
        (
            "Illuminated manuscript miniature of a medieval recluse peering through the narrow "
            "squint of her anchorhold",
            "recluse",
        ),
        ("Glass lantern slide of a whaler on the deck", "whaler"),
        ("Persian miniature of a falconer riding out at dawn", "falconer"),
        ("a child on a slide in a playground", "child"),
        ("a miniature horse grazing in a paddock", "horse"),
    ],
)
def test_set_114_a_slide_or_a_miniature_of_someone_is_the_picture(prompt, noun):
    """Set 114: "1970s Kodachrome slide of a skycap" got "the slide small and isolated in
    negative space", and a manuscript miniature of a recluse got "the manuscript" there."""
    assert parse_scene(prompt).main.noun in (noun, noun + "s")


@pytest.mark.parametrize(
    "prompt",
    [
        "Technicolor film still of Befana, the Italian Epiphany witch, buying liquorice at a "
        "tabaccheria in a snowy village",
        "1970s Kodachrome slide of a skycap waiting beside an empty luggage cart",
        "Security camera still of a barmaid locking up alone in a fog-filled vennel",
        "a dinnerlady wiping tables in the empty college buttery on a grey Monday, CCTV still",
    ],
)
def test_set_115_a_film_still_or_a_slide_is_a_photograph(prompt):
    """Set 115, both readers: "Technicolor film still of Befana ..." got "crayon-scribble
    textures on paper" and "square instant-photo frame with a thick white border"."""
    facts = parse_scene(prompt).facts
    assert "photographed" in facts
    assert look_conflict("texture", "crayon-scribble textures on paper", facts)
    frame = "square instant-photo frame with a thick white border"
    assert look_conflict("composition", frame, facts)


@pytest.mark.parametrize(
    "prompt",
    [
        "still life of pears on a windowsill",
        "a heron standing still in a reed bed",
        "a child on a slide in a playground",
        "Toddler at the park, red slide, sunny afternoon",
        "Water park, twisting slide, crowds in the sun",
    ],
)
def test_set_115_still_and_slide_name_no_photograph_elsewhere(prompt):
    assert "photographed" not in parse_scene(prompt).facts


def test_set_115_a_stated_look_rules_out_light_of_the_opposite_contrast():
    """Set 115, both readers: a chiaroscuro oil painting of a nazareno got "muted low-contrast
    light"; set 110's judge file 115, both readers: a soft pastel photo of a pedicurist got "stark
    high-contrast light with crushed black shadows"."""
    graph = load_concept_graph()
    muted = graph.get("muted low-contrast light")
    stark = graph.get("stark high-contrast light with crushed black shadows")
    chiaroscuro = parse_scene(
        "Chiaroscuro oil painting of a nazareno in a tall black capirote weeping on the steps of "
        "a Seville ermita at dusk"
    )
    pastel = parse_scene("Soft pastel photo of a pedicurist glaring at a client in a salon")
    assert "hard_look" in (muted.conflict(chiaroscuro) or "")
    assert stark.conflict(chiaroscuro) is None
    assert "soft_look" in (stark.conflict(pastel) or "")
    assert muted.conflict(pastel) is None
    high_key = graph.get("bright high-key light with barely a shadow")
    low_key = graph.get("red-tinted low-key lighting")
    assert high_key.conflict(chiaroscuro) is not None
    assert low_key.conflict(pastel) is not None
    assert low_key.conflict(parse_scene("High-key studio portrait of a bride")) is not None
    # a look named only where it is the picture's (a review of the change found these misread)
    for scene in (
        "a dog in a park",
        "a detective in a tobacconist's shop",
        "Soft pastel drawing of a stormy harbour",
        "A woman in a soft pastel cardigan standing in a dark alley at night",
        "A pianist striking a high key on a grand piano in a dim jazz bar",
        "Easter eggs in pastel tones on a kitchen table",
        "A teenager watching a film noir on a laptop in a sunny kitchen",
        "A film noir poster on the wall of a bright cafe",
        "An art student studying chiaroscuro in a bright airy studio",
        "A low-key lighting technician rigging lamps",
    ):
        parsed = parse_scene(scene)
        assert not {"soft_look", "hard_look"} & parsed.facts, scene
        for light in (muted, stark, high_key, low_key):
            assert "_look" not in (light.conflict(parsed) or ""), (scene, light.text)


@pytest.mark.parametrize(
    ("prompt", "vocal"),
    [
        (
            "Polaroid snapshot of a drag queen in dripping sequins laughing mid-wobble on a segway "
            "outside a chipshop just after midnight rain",
            True,
        ),
        (
            "A 1920s flapper, eyes squeezed shut with laughter, gets her pearls tangled in the "
            "crank of a stalled cyclecar",
            True,
        ),
        ("a monk in a cave chanting at dawn", True),
        ("a shepherd listening to the howling wind", False),
        ("a girl in a red coat reading by the fire", False),
        ("a girl blowing up a balloon", False),
    ],
)
def test_set_116_laughter_a_few_words_after_the_subject_opens_its_mouth(prompt, vocal):
    """Set 116, both readers, twice: a drag queen "laughing mid-wobble" and a flapper "with
    laughter" got "cheeks puffed out like a hamster" (a mouth held shut)."""
    cheeks = load_concept_graph().get("{poss} cheeks puffed out like a hamster")
    scene = parse_scene(prompt)
    assert ("vocal" in scene.facts) is vocal
    assert (cheeks.conflict(scene) is not None) is vocal


def test_set_117_a_simile_states_nothing_of_the_scene():
    """Set 117, both readers: "a pteropod swarm glitters like falling snow in the dive lights" at
    a seabed habitat read as snowing and winter, and got "intricate fractal frost patterns"."""
    swarm = parse_scene(
        "From the moon pool of a seabed habitat at midnight, a pteropod swarm glitters like "
        "falling snow in the dive lights"
    )
    assert not {"snowing", "winter", "snowbound"} & swarm.facts
    frost = load_concept_graph().get("intricate fractal frost patterns")
    assert frost.conflict(swarm) is not None
    assert "winter" in parse_scene("a postman in falling snow").facts
    # a likeness the facts list still states its fact: still water
    assert "still" in parse_scene("a loch like polished glass at dawn").facts
    assert "face" not in phrase_facts("a slice of {the} shaped like a grinning mouth")
