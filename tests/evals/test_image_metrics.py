"""Image metrics on hand-made inputs whose values are known, each with a control."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from emotion_director.evals.images import (  # noqa: E402
    EMOTIONS,
    ImageEvalError,
    clip_score,
    emotion_accuracy,
    mean_pairwise_distance,
    true_class_probability,
)
from emotion_director.evals.probe import EmotionProbe, fit_probe, split_train_val  # noqa: E402


def test_clip_score_is_100_for_the_same_direction_and_0_for_orthogonal_or_opposite():
    image = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 0.0], [3.0, 4.0]])
    text = torch.tensor([[2.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [3.0, 0.0]])
    assert clip_score(image, text).tolist() == pytest.approx([100.0, 0.0, 0.0, 60.0])


def test_pairwise_distance_is_0_for_copies_1_for_orthogonal_and_2_for_opposites():
    same = torch.tensor([[1.0, 2.0, 3.0]] * 4)
    assert mean_pairwise_distance(same) == pytest.approx(0.0, abs=1e-6)
    assert mean_pairwise_distance(torch.eye(5)) == pytest.approx(1.0)
    assert mean_pairwise_distance(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(2.0)
    assert mean_pairwise_distance(torch.eye(1)) != mean_pairwise_distance(torch.eye(1))  # nan


def test_emotion_accuracy_and_true_class_probability_on_known_probabilities():
    probs = torch.zeros(4, 8)
    probs[0, EMOTIONS.index("awe")] = 0.9  # right, p = 0.9
    probs[0, EMOTIONS.index("fear")] = 0.1
    probs[1, EMOTIONS.index("anger")] = 0.6  # wrong (target fear, p = 0.4)
    probs[1, EMOTIONS.index("fear")] = 0.4
    probs[2, EMOTIONS.index("sadness")] = 1.0  # right, p = 1
    probs[3] = 1 / 8  # a tie goes to the first emotion: wrong
    targets = ["awe", "fear", "sadness", "excitement"]
    assert emotion_accuracy(probs, targets) == pytest.approx(0.5)
    assert true_class_probability(probs, targets) == pytest.approx((0.9 + 0.4 + 1 + 0.125) / 4)
    # control: the same predictions scored against shifted targets get nothing right
    shifted = [EMOTIONS[(EMOTIONS.index(t) + 1) % 8] for t in targets]
    assert emotion_accuracy(probs[:3], shifted[:3]) == 0.0


def _separable(n_per: int, noise: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(8).repeat_interleave(n_per)
    features = torch.nn.functional.one_hot(labels, 16).float() * 3
    return features + noise * torch.randn(features.shape, generator=gen), labels


def test_probe_learns_separable_features_and_scores_chance_on_shuffled_labels():
    x, y = _separable(12, 0.3)
    train, val = split_train_val(y.tolist(), 0.25, seed=0)
    probe = fit_probe(x[train], y[train])
    right = (probe.logits(x[val]).argmax(-1) == y[val]).float().mean()
    assert right == 1.0
    # control: labels carrying no information give about chance on held-out rows
    gen = torch.Generator().manual_seed(1)
    noise_x = torch.randn(8 * 40, 16, generator=gen)
    noise_y = torch.randint(0, 8, (8 * 40,), generator=gen)
    train, val = split_train_val(noise_y.tolist(), 0.5, seed=0)
    control = fit_probe(noise_x[train], noise_y[train])
    wrong = (control.logits(noise_x[val]).argmax(-1) == noise_y[val]).float().mean()
    assert wrong < 0.3


def test_split_is_stratified_and_keeps_singletons_in_training():
    labels = [0] * 10 + [1] * 5 + [2]
    train, val = split_train_val(labels, 0.2, seed=3)
    assert sorted(train + val) == list(range(16))
    assert [labels[i] for i in val].count(0) == 2 and [labels[i] for i in val].count(1) == 1
    assert 15 in train


def test_probe_round_trips_and_rejects_bad_files_and_wrong_width(tmp_path):
    x, y = _separable(4, 0.1)
    probe = fit_probe(x, y)
    probe.metadata = {"encoder": "some/clip"}
    path = probe.save(tmp_path / "probe.safetensors")
    loaded = EmotionProbe.load(path)
    assert torch.allclose(loaded.predict_proba(x), probe.predict_proba(x))
    assert loaded.encoder == "some/clip"
    with pytest.raises(
        ImageEvalError, match="expects 16-d features but the image encoder gives 8-d"
    ):
        loaded.predict_proba(torch.zeros(1, 8))
    with pytest.raises(ImageEvalError, match="not found: train one with"):
        EmotionProbe.load(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ImageEvalError, match="not a readable probe file"):
        EmotionProbe.load(tmp_path / "junk.safetensors")
    from safetensors.torch import save_file

    save_file({"weight": torch.zeros(8, 4)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ImageEvalError, match="not an emotion probe"):
        EmotionProbe.load(tmp_path / "other.safetensors")
    with pytest.raises(ImageEvalError, match="must end in .safetensors"):
        probe.save(tmp_path / "probe.pt")


def _image_record(system, case, index, emotion, predicted, features, subject_score=30.0):
    import base64

    probs = [0.0] * 8
    probs[EMOTIONS.index(predicted)] = 1.0
    return {
        "system": system,
        "case_id": case,
        "index": index,
        "emotion": emotion,
        "predicted": predicted,
        "probs": probs,
        "true_class_prob": probs[EMOTIONS.index(emotion)],
        "clip_score": subject_score,
        "clip_score_control": 5.0,
        "pipeline": "text_to_image",
        "clip_features": base64.b64encode(
            torch.tensor(features, dtype=torch.float16).numpy().tobytes()
        ).decode(),
    }


def test_summary_of_hand_made_records_has_known_accuracy_controls_and_diversity():
    from emotion_director.evals.images import summarise_images

    records = [  # "good" is always right with orthogonal images; "collapsed" always wrong, copies
        _image_record("good", "c1", 0, "awe", "awe", [1, 0, 0]),
        _image_record("good", "c1", 1, "awe", "awe", [0, 1, 0]),
        _image_record("good", "c2", 0, "fear", "fear", [0, 0, 1]),
        _image_record("good", "c2", 1, "fear", "fear", [1, 0, 0]),
        _image_record("collapsed", "c1", 0, "awe", "contentment", [1, 1, 0]),
        _image_record("collapsed", "c1", 1, "awe", "contentment", [1, 1, 0]),
        _image_record("collapsed", "c2", 0, "fear", "sadness", [1, 1, 0]),
        _image_record("collapsed", "c2", 1, "fear", "sadness", [1, 1, 0]),
    ]
    table = summarise_images(records)["table"]
    assert table["good"]["emotion_accuracy"][0] == 1.0
    assert table["good"]["true_class_prob"][0] == 1.0
    assert table["good"]["probe_control_accuracy"][0] == 0.0
    assert table["good"]["diversity"] == pytest.approx(1.0)
    assert table["good"]["clip_score"][0] == 30.0 and table["good"]["clip_score_control"][0] == 5.0
    # control: a system that always predicts the next emotion wins the control column instead
    assert table["collapsed"]["emotion_accuracy"][0] == 0.0
    assert table["collapsed"]["probe_control_accuracy"][0] == 1.0
    assert table["collapsed"]["diversity"] == pytest.approx(0.0, abs=1e-3)
