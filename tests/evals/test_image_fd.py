"""The Fréchet distance on CLIP features (``fd_clip``) of the image eval: the formula on known
cases, the per-system value beside its control, and bad reference folders."""

import base64

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emotion_director.errors import ImageEvalError  # noqa: E402
from emotion_director.evals.images import (  # noqa: E402
    _reference_images,
    frechet_distance,
    summarise_images,
)


def test_identical_sets_are_at_zero_and_a_shift_costs_its_squared_length():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6))
    assert abs(frechet_distance(a, a)) < 1e-8
    shift = np.array([3.0, 0, 0, 0, 4.0, 0])
    assert frechet_distance(a, a + shift) == pytest.approx(25.0, abs=1e-6)
    b = rng.normal(size=(300, 6)) * 2.0
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)


def test_the_covariance_term_matches_the_closed_form_for_diagonal_gaussians():
    # sample covariances are exactly diagonal here: columns of orthogonal +-1 patterns
    signs = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=float)
    a = signs * np.array([1.0, 2.0])
    b = signs * np.array([3.0, 0.5])
    var_a, var_b = a.var(axis=0, ddof=1), b.var(axis=0, ddof=1)
    expected = ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum()
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_bad_shapes_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"\[n >= 2, d\]"):
        frechet_distance(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(ValueError):
        frechet_distance(np.zeros((5, 4)), np.zeros((5, 3)))


def _record(system, case, features):
    raw = base64.b64encode(np.asarray(features, dtype=np.float16).tobytes()).decode()
    return {
        "system": system,
        "case_id": case,
        "emotion": "awe",
        "clip_score": 20.0,
        "clip_score_control": 5.0,
        "clip_features": raw,
        "pipeline": "text_to_image",
    }


def test_a_system_drawn_like_the_reference_is_nearer_than_a_shifted_one():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(200, 8)).astype(np.float32)
    records = [_record("near", f"c{i}", rng.normal(size=8)) for i in range(60)]
    records += [_record("far", f"c{i}", rng.normal(size=8) + 2.0) for i in range(60)]
    summary = summarise_images(records, reference)
    near, far = summary["table"]["near"]["fd_clip"], summary["table"]["far"]["fd_clip"]
    assert near < far and far > 8 * 4 * 0.9  # about |shift|^2 = 32
    assert 0 <= summary["fd_reference_halves"] < far and summary["reference_images"] == 200
    assert "fd_clip" not in summarise_images(records)["table"]["near"]  # no reference: no fd


def test_a_reference_folder_that_is_missing_or_empty_is_named(tmp_path):
    with pytest.raises(ImageEvalError, match="not a folder"):
        _reference_images(tmp_path / "nope", 10)
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(ImageEvalError, match="holds 0 images"):
        _reference_images(tmp_path, 10)
