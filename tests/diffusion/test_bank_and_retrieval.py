import pytest
import torch

from emotion_director.diffusion.bank import BankError, VisualPromptBank
from emotion_director.diffusion.retrieval import retrieve_visual_prompt
from emotion_director.emotions import Emotion


def test_bank_round_trips_through_safetensors(tmp_path, bank):
    bank.metadata["image_encoder"] = "tiny"
    path = bank.save(tmp_path / "bank.safetensors")
    loaded = VisualPromptBank.load(path)
    assert torch.equal(loaded.tokens, bank.tokens) and torch.equal(loaded.text_keys, bank.text_keys)
    assert loaded.emotions == [e.value for e in Emotion]
    assert loaded.metadata["image_encoder"] == "tiny"
    assert (loaded.num_tokens, loaded.dim, loaded.text_dim) == (4, 16, 32)


def test_bad_bank_files_give_clear_errors(tmp_path, bank):
    with pytest.raises(BankError, match="not found"):
        VisualPromptBank.load(tmp_path / "missing.safetensors")
    pickle_file = tmp_path / "bank.pt"
    pickle_file.write_bytes(b"x")
    with pytest.raises(BankError, match="pickles are never loaded"):
        VisualPromptBank.load(pickle_file)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(BankError, match="not a readable bank file"):
        VisualPromptBank.load(garbage)
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"tokens": torch.zeros(8, 2, 3)}, str(other))
    with pytest.raises(BankError, match="not a visual prompt bank"):
        VisualPromptBank.load(other)
    with pytest.raises(BankError, match="must agree"):
        VisualPromptBank(torch.zeros(8, 4, 3), torch.zeros(8, 5, 3))
    with pytest.raises(BankError, match="does not match"):
        bank.check_compatible(dim=768)


def test_retrieval_differs_for_different_prompts(bank):
    storm, newborn = (
        torch.randn(32, generator=torch.Generator().manual_seed(1)),
        torch.randn(32, generator=torch.Generator().manual_seed(2)),
    )
    a = retrieve_visual_prompt(bank, "awe", storm, temperature=0.05)
    b = retrieve_visual_prompt(bank, "awe", newborn, temperature=0.05)
    assert not torch.allclose(a.weights, b.weights)
    assert torch.isclose(a.weights.sum(), torch.tensor(1.0))


def test_retrieval_formula_limits(bank):
    text = torch.randn(32)
    tokens, keys = bank.for_emotion("fear")
    flat = retrieve_visual_prompt(bank, "fear", text, temperature=1e6)
    assert torch.allclose(flat.tokens, tokens, atol=1e-4)  # uniform weights give the bank back
    assert torch.equal(retrieve_visual_prompt(bank, "fear", None).tokens, tokens)
    top = retrieve_visual_prompt(bank, "fear", text, temperature=0.1, top_k=2)
    best = torch.nn.functional.cosine_similarity(keys, text[None], dim=-1).topk(2).indices
    assert set(top.indices.tolist()) == set(best.tolist()) and top.tokens.shape == (2, 16)
    with pytest.raises(BankError, match="size 5"):
        retrieve_visual_prompt(bank, "fear", torch.randn(5))
    with pytest.raises(BankError, match="top_k"):
        retrieve_visual_prompt(bank, "fear", text, top_k=9)
