from emotion_director.evals.scene_metrics import (
    added_phrases,
    checker_agreement,
    contradiction_scores,
    contradictions,
    cross_subject_repetition,
    labelled_pairs,
    markdown_section,
    normalise_phrase,
    paired_scene_differences,
    per_case_scene_scores,
    scene_summary,
)


def test_labelled_set_has_over_a_hundred_pairs_of_both_labels():
    pairs = labelled_pairs()
    assert len(pairs) >= 100
    assert 0.3 < sum(p["contradicts"] for p in pairs) / len(pairs) < 0.7
    assert len({p["prompt"] for p in pairs}) >= 30


def test_checker_agrees_with_the_hand_labels():
    agreement = checker_agreement()
    print(f"checker vs labels: {agreement}")
    assert agreement["pairs"] >= 200
    assert agreement["accuracy"] >= 0.98
    assert agreement["precision"] >= 0.95 and agreement["recall"] >= 0.95


def test_checker_that_flags_everything_scores_badly_on_the_labels():
    flipped = [{**p, "contradicts": not p["contradicts"]} for p in labelled_pairs()]
    assert checker_agreement(flipped)["accuracy"] < 0.1


def test_added_phrases_skip_the_prompts_own_words():
    assert added_phrases("a dog in a park", "a dog in a park, rim light, the dog") == ["rim light"]


def test_contradiction_scores_count_scene_and_pairwise_clashes():
    scores = contradiction_scores(
        "a street at noon", "a street at noon, cold moonlight, wet cobblestones"
    )
    assert scores["contradiction_rate"] == 0.5 and scores["contradicted"] == 1.0
    pairwise = contradictions("a chair", "a chair, bright midday sun, a sky full of stars")
    assert [p for p, _ in pairwise] == ["a sky full of stars"]
    assert contradiction_scores("a chair", "a chair")["contradiction_rate"] == 0.0


def test_repetition_normalises_the_subject_and_a_fixed_list_scores_one():
    assert normalise_phrase("a dog", "the dog's shadow") == normalise_phrase(
        "a chair", "the chair's shadow"
    )
    fixed = [
        {"prompt": p, "emotion": "awe", "rewrite": f"{p}, rim light, gold palette"}
        for p in ("a dog", "a chair", "a tram")
    ]
    assert cross_subject_repetition(fixed) == 1.0
    varied = [
        {"prompt": "a dog", "emotion": "awe", "rewrite": "a dog, rim light"},
        {"prompt": "a chair", "emotion": "awe", "rewrite": "a chair, vaulted ceiling"},
    ]
    assert cross_subject_repetition(varied) == 0.0


def test_template_control_repeats_everything_and_the_report_section_lists_systems():
    rows = []
    own = {
        "a dog": "tail tucked low",
        "a chair": "a long shadow on the floor",
        "a tram": "headlights in thick fog",
    }
    for prompt, detail in own.items():
        rows.append(
            {
                "system": "template",
                "prompt": prompt,
                "emotion": "fear",
                "rewrite": f"{prompt}, fear mood, evoking fear",
            }
        )
        rows.append(
            {
                "system": "mine",
                "prompt": prompt,
                "emotion": "fear",
                "rewrite": f"{prompt}, {detail}",
            }
        )
    summary = scene_summary(rows)
    assert summary["template"]["cross_subject_repetition"] == 1.0
    assert summary["mine"]["cross_subject_repetition"] == 0.0
    section = markdown_section(rows)
    assert "Scene fit" in section and "| template |" in section and "accuracy" in section


def _row(system, case, prompt, emotion, rewrite):
    return {
        "system": system,
        "case_id": case,
        "prompt": prompt,
        "emotion": emotion,
        "rewrite": rewrite,
    }


def test_paired_scene_differences_tell_a_repetitive_system_from_a_varied_one():
    subjects = ["a dog", "a bicycle", "a lighthouse", "an old man", "a teapot", "a bridge"]
    varied = [
        "a misty lake",
        "a copper bell",
        "a granite arch",
        "a violet dusk",
        "a row of lanterns",
        "a cedar hall",
    ]
    rows = []
    for i, (subject, phrase) in enumerate(zip(subjects, varied)):
        rows.append(_row("mc_agent", str(i), subject, "awe", f"{subject}, {phrase}"))
        rows.append(_row("copy", str(i), subject, "awe", f"{subject}, {phrase}"))
        # control: the same additions for every subject (a lookup table)
        rows.append(_row("lookup", str(i), subject, "awe", f"{subject}, rim light, gold palette"))
    scores = per_case_scene_scores(rows)
    assert all(v["repetition"] == 0.0 for v in scores["mc_agent"].values())
    assert all(v["repetition"] == 1.0 for v in scores["lookup"].values())
    paired = paired_scene_differences(rows)
    assert paired["copy"]["repetition"] == (0.0, 0.0, 0.0)
    mean, low, high = paired["lookup"]["repetition"]
    assert mean == 1.0 and low > 0
    assert "| lookup | 1.000 [1.000, 1.000]" in markdown_section(rows)


def test_checker_flags_morning_vs_evening_the_dark_by_day_crowds_and_places():
    # real rewrites of "a mountain summit at sunrise" and "an angry dog"
    summit = "a mountain summit at sunrise"
    flagged = [
        p
        for p, _ in contradictions(
            summit,
            f"{summit}, the last light fading from the "
            "sky, a porch light left burning in the dark, the summit sharp amid blurred "
            "passers-by, low mist catching the first light of dawn",
        )
    ]
    assert flagged == [
        "the last light fading from the sky",
        "a porch light left burning in the dark",
        "the summit sharp amid blurred passers-by",
    ]
    dog = contradictions(
        "an angry dog",
        "a dog, an open meadow under a pale sky, a soft drizzle seen from a dry porch",
    )
    assert [p for p, _ in dog] == ["a soft drizzle seen from a dry porch"]
    assert "an open meadow" in dog[0][1]


def test_checker_counts_a_misplaced_phrase_once_and_ignores_the_subjects_own_place():
    # "an empty hospital bed" moves a fireplace to a hospital; the phrases naming the fireplace
    # do not contradict that phrase as well
    rewrite = (
        "a fireplace, an empty hospital bed, the fireplace under the dim yellow of a desk "
        "lamp, heavy headroom with the fireplace low in the frame"
    )
    assert [p for p, _ in contradictions("a cozy fireplace", rewrite)] == ["an empty hospital bed"]
    corridor = (
        "a hospital corridor, sallow tungsten light in a damp basement, the corridor "
        "shoved to the frame edge beside a smear"
    )
    assert contradictions("a hospital corridor", corridor) == []


def test_report_prints_the_checkers_measured_precision_and_recall_on_unseen_scenes():
    from emotion_director.evals.scene_metrics import agreement_note, unseen_pairs

    pairs = unseen_pairs()
    assert len(pairs) >= 200 and any(p["contradicts"] for p in pairs)
    unseen = checker_agreement(pairs)
    note = agreement_note()
    assert f"recall {unseen['recall']:.3f}" in note and "not written for" in note
    # the tables' recall on scenes they were not written for is far below their own set's
    assert unseen["recall"] < checker_agreement()["recall"]
