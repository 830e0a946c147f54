"""The shipped prototype vectors (``scenefit/data/prototypes.npz``) are what the packaged model
gives for the packaged prototype texts, and are used only for that model."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_director.scenefit import encoder as encoder_mod

pytest.importorskip("tokenizers")


def test_the_shipped_vectors_are_the_models_for_every_prototype_text():
    folder = encoder_mod.model_dir()
    texts, vecs = encoder_mod._shipped_prototypes(folder)
    # rebuild: python -c "from emotion_director.scenefit.encoder import write_prototype_vectors;
    #   write_prototype_vectors('emotion_director/scenefit/data/prototypes.npz')"
    assert texts == encoder_mod.prototype_texts(), "prototypes changed: rebuild prototypes.npz"
    fresh = encoder_mod.MiniLMEncoder.load().encode(texts)
    assert np.abs(fresh - vecs).max() < 1e-5


def test_the_shared_encoder_answers_prototypes_from_the_shipped_vectors():
    shared = encoder_mod.shared_encoder()
    texts, vecs = encoder_mod._shipped_prototypes(encoder_mod.model_dir())
    assert set(texts) <= set(shared._cache)
    assert np.array_equal(shared.encode(texts[:3]), vecs[:3])


def test_vectors_written_for_another_model_file_are_not_used(tmp_path):
    # the packaged model's files with one weight byte changed (a retrained model of the same
    # layout and size): nothing is seeded
    folder = encoder_mod.model_dir()
    weights = bytearray((folder / "model.safetensors").read_bytes())
    weights[len(weights) // 2] ^= 0xFF
    (tmp_path / "model.safetensors").write_bytes(bytes(weights))
    (tmp_path / "tokenizer.json").write_bytes((folder / "tokenizer.json").read_bytes())
    assert encoder_mod._shipped_prototypes(folder)[1] is not None
    assert encoder_mod._shipped_prototypes(tmp_path) == ([], None)


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04 cut short"])
def test_an_empty_or_corrupt_vector_file_falls_back_to_encoding(monkeypatch, tmp_path, content):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prototypes.npz").write_bytes(content)

    class Files:
        def joinpath(self, name):
            return tmp_path / name

    monkeypatch.setattr("importlib.resources.files", lambda package: Files())
    assert encoder_mod._shipped_prototypes(encoder_mod.model_dir()) == ([], None)


def test_writing_the_vectors_goes_through_a_rename(tmp_path):
    out = tmp_path / "p.npz"
    n = encoder_mod.write_prototype_vectors(out)
    assert n == len(encoder_mod.prototype_texts()) and out.is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]  # no temporary left behind
