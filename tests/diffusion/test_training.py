import copy
import math
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from emotion_director.cli import app
from emotion_director.diffusion.training import (
    ConfigError,
    DatasetError,
    DPOConfig,
    DPOTrainer,
    make_toy_preferences,
    preference_loss,
)
from emotion_director.diffusion.training.loss import dpo_objective
from emotion_director.diffusion.training.trainer import step_generator

EXAMPLE = Path(__file__).parents[2] / "examples" / "dpo_tiny.yaml"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_preferences(tmp_path_factory.mktemp("toy"), per_emotion=3)


def config(toy, out, **train):
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["data"]["preferences"] = str(toy)
    raw["train"].update(output_dir=str(out), validation_every=None, **train)
    return DPOConfig.parse(raw)


# ----- loss ------------------------------------------------------------------------------
def test_loss_variants_equal_hand_computation():
    z = torch.tensor([0.015625, -0.0078125, 0.0625])  # exact in float32
    beta = 64.0
    hand_sigmoid = [-math.log(1 / (1 + math.exp(-0.5 * beta * v))) for v in z.tolist()]
    assert torch.allclose(preference_loss(z, beta, "sigmoid"), torch.tensor(hand_sigmoid))
    hand_hinge = [max(0.0, 1 - 0.5 * beta * v) for v in z.tolist()]
    assert torch.allclose(preference_loss(z, beta, "hinge"), torch.tensor(hand_hinge))
    hand_ipo = [(v - 1 / beta) ** 2 for v in z.tolist()]
    assert torch.allclose(preference_loss(z, beta, "ipo"), torch.tensor(hand_ipo))


def test_objective_from_errors_matches_hand_computation_and_sign():
    model = {
        "w": torch.tensor([0.10, 0.30]),
        "l": torch.tensor([0.20, 0.20]),
        "neg": torch.tensor([0.40, 0.25]),
    }
    ref = {
        "w": torch.tensor([0.15, 0.30]),
        "l": torch.tensor([0.15, 0.20]),
        "neg": torch.tensor([0.30, 0.30]),
    }
    beta = 10.0
    terms = dpo_objective(model, ref, beta=beta, image_weight=1.0, nvp_weight=0.5)
    z = (ref["w"] - ref["l"]) - (model["w"] - model["l"])  # [0.1, 0.0]
    z_nvp = (ref["w"] - ref["neg"]) - (model["w"] - model["neg"])  # [0.15, -0.05]
    expected = (-torch.nn.functional.logsigmoid(5 * z)).mean() + 0.5 * (
        -torch.nn.functional.logsigmoid(5 * z_nvp)
    ).mean()
    assert torch.isclose(terms.loss, expected)
    assert terms.accuracy == 0.75 and terms.nvp_accuracy == 0.5  # the tie z=0 counts one half
    better = dpo_objective({**model, "w": model["w"] - 0.05}, ref, beta=beta, nvp_weight=0.5)
    worse = dpo_objective({**model, "w": model["w"] + 0.05}, ref, beta=beta, nvp_weight=0.5)
    assert better.loss < terms.loss < worse.loss  # preferred better -> lower loss
    no_pairs = dpo_objective(model, ref, beta=beta, pair_mask=torch.tensor([0.0, 0.0]))
    assert no_pairs.image_loss == 0


# ----- trainer ---------------------------------------------------------------------------
def _trained(key: str) -> bool:
    """UNet state-dict keys of the visual-prompt parts (processors, encoder_hid_proj slot)."""
    return "processor" in key or key.startswith("encoder_hid_proj.")


def test_only_trainable_parameters_change(tmp_path, toy):
    trainer = DPOTrainer(config(toy, tmp_path, max_steps=1, checkpoint_every=100))
    unet_before = {k: v.clone() for k, v in trainer.unet.state_dict().items() if not _trained(k)}
    vae_before = copy.deepcopy(trainer.pipe.vae.state_dict())
    trainable_before = {k: v.clone() for k, v in trainer.trainable.state_dict().items()}
    trainer.train()
    for k, v in trainer.unet.state_dict().items():
        if not _trained(k):
            assert torch.equal(v, unet_before[k]), k
    assert all(torch.equal(v, vae_before[k]) for k, v in trainer.pipe.vae.state_dict().items())
    changed = [
        k
        for k, v in trainer.trainable.state_dict().items()
        if not torch.equal(v, trainable_before[k])
    ]
    assert any(k == "tokens" for k in changed) and any("to_k_vp" in k for k in changed)
    assert any(k.startswith("adapter.projector") for k in changed)
    assert all(
        not p.requires_grad
        for p in trainer.unet.parameters()
        if not any(p is q for q in trainer.trainable.parameters())
    )


def test_reference_by_swapping_equals_a_frozen_deep_copy(tmp_path, toy):
    trainer = DPOTrainer(config(toy, tmp_path, max_steps=3, checkpoint_every=100))
    frozen = DPOTrainer(config(toy, tmp_path / "copy", max_steps=3, checkpoint_every=100))
    frozen_copy = copy.deepcopy(frozen)  # the whole initial model: UNet, adapter, bank
    trainer.train()
    records = trainer.batch_for(0, 0)

    def reference_errors(t, swap: bool):
        captured = {}
        original = t.unet.forward

        def spy(*args, **kwargs):
            out = original(*args, **kwargs)
            captured.setdefault("first", out.sample.detach().clone())
            return out

        t.unet.forward = spy
        try:
            if swap:
                t.compute_loss(records, torch.Generator().manual_seed(7))
            else:  # the frozen copy is its own reference and its own policy
                with torch.no_grad():
                    t.compute_loss(records, torch.Generator().manual_seed(7))
        finally:
            t.unet.forward = original
        return captured["first"]  # the first UNet call of compute_loss is the reference pass

    assert torch.equal(reference_errors(trainer, True), reference_errors(frozen_copy, False))


def _training_inputs_loss(trainer, steps):
    total = 0.0
    with torch.no_grad():
        for s in range(steps):
            g = step_generator(trainer.config.train.seed, s, 0)
            total += float(trainer.compute_loss(trainer.batch_for(s, 0), g).loss)
    return total / steps


@pytest.mark.slow
def test_twenty_steps_lower_the_training_loss(tmp_path, toy):
    trainer = DPOTrainer(config(toy, tmp_path, max_steps=20, checkpoint_every=100))
    before = _training_inputs_loss(trainer, 20)
    assert math.isclose(before, 2 * math.log(2), rel_tol=1e-4)  # policy == reference at start
    trainer.train()
    assert _training_inputs_loss(trainer, 20) < before - 0.05
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss") and rows[-1].startswith("20,")


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_parameters(tmp_path, toy):
    straight = DPOTrainer(config(toy, tmp_path / "a", max_steps=20, checkpoint_every=10))
    straight.train()

    class Killed(Exception):
        pass

    def kill_at_13(step, metrics):
        if step == 13:
            raise Killed

    first = DPOTrainer(config(toy, tmp_path / "b", max_steps=20, checkpoint_every=10, log_every=1))
    with pytest.raises(Killed):
        first.train(on_step=kill_at_13)
    assert (tmp_path / "b" / "checkpoint-00000010").is_dir()
    resumed = DPOTrainer(
        config(toy, tmp_path / "b", max_steps=20, checkpoint_every=10, log_every=1)
    )
    resumed.train(resume="latest")
    assert resumed.step == 20
    for (name, a), (_, b) in zip(
        straight.trainable.state_dict().items(), resumed.trainable.state_dict().items()
    ):
        assert torch.equal(a, b), name
    steps = [
        int(r.split(",")[0]) for r in (tmp_path / "b" / "metrics.csv").read_text().splitlines()[1:]
    ]
    assert steps == list(range(1, 21))  # rows of the lost steps 11-13 were not kept twice
    assert len(list((tmp_path / "b").glob("checkpoint-*"))) == 2


def test_bad_config_and_data_name_the_field_or_line(tmp_path, toy):
    with pytest.raises(ConfigError, match="field 'loss.variant'"):
        DPOConfig.parse({"data": {"preferences": "x"}, "loss": {"variant": "softmax"}})
    with pytest.raises(ConfigError, match="field 'train.max_stepz'"):
        DPOConfig.parse({"data": {"preferences": "x"}, "train": {"max_stepz": 3}})
    with pytest.raises(ConfigError, match="give data.preferences"):
        DPOConfig.parse({"data": {}})
    bad = tmp_path / "bad.jsonl"
    shutil.copytree(toy.parent / "images", tmp_path / "images")
    for line, message in [
        (
            '{"prompt": "p", "emotion": "awe", "image_w": "images/awe-0-w.png"}',
            "missing field(s) image_l",
        ),
        (
            '{"prompt": "p", "emotion": "happyish", "image_w": "images/awe-0-w.png", '
            '"image_l": "images/awe-0-l.png"}',
            "unknown emotion",
        ),
        (
            '{"prompt": "p", "emotion": "awe", "image_w": "nope.png", '
            '"image_l": "images/awe-0-l.png"}',
            "field 'image_w': image",
        ),
        ("{not json", "invalid JSON"),
    ]:
        bad.write_text(
            '{"prompt": "p", "emotion": "awe", "image_w": "images/awe-0-w.png", '
            '"image_l": "images/awe-0-l.png"}\n' + line + "\n"
        )
        with pytest.raises(DatasetError, match=f"bad.jsonl:2: .*{message.split()[0]}"):
            DPOTrainer(config(bad, tmp_path / "out"))


@pytest.mark.slow
def test_cli_trains_the_example_and_generate_uses_the_result(tmp_path):
    runner = CliRunner()
    shutil.copy(EXAMPLE, tmp_path / "dpo_tiny.yaml")
    assert runner.invoke(app, ["train", "toy-data", str(tmp_path / "toy")]).exit_code == 0
    cfg = yaml.safe_load((tmp_path / "dpo_tiny.yaml").read_text())
    cfg["train"]["output_dir"] = str(tmp_path / "run")
    (tmp_path / "dpo_tiny.yaml").write_text(yaml.safe_dump(cfg))
    result = runner.invoke(app, ["train", "dpo", "--config", str(tmp_path / "dpo_tiny.yaml")])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    assert (run / "bank.safetensors").is_file() and (run / "adapter.safetensors").is_file()
    assert list((run / "validation").glob("*.png"))
    assert runner.invoke(app, ["bank", "tiny-pipeline", str(tmp_path / "sd")]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "generate",
            "a dog",
            "-e",
            "awe",
            "--model",
            str(tmp_path / "sd"),
            "--bank",
            str(run / "bank.safetensors"),
            "--adapter",
            str(run / "adapter.safetensors"),
            "--out",
            str(tmp_path / "img"),
            "--steps",
            "2",
            "--size",
            "32",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "img").glob("*.png"))) == 1
    printed = runner.invoke(app, ["train", "dpo", "--print-config"])
    assert printed.exit_code == 0 and "negative_sampling" in printed.stdout
    missing = runner.invoke(app, ["train", "dpo", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "config file not found" in missing.stderr


def test_optional_lora_trains_with_a_base_equal_reference_and_loads_for_generation(tmp_path, toy):
    pytest.importorskip("peft")
    cfg = config(toy, tmp_path / "run", max_steps=3, checkpoint_every=100)
    cfg.model.lora_rank = 4
    trainer = DPOTrainer(cfg)
    base = {
        k: v.clone()
        for k, v in trainer.unet.state_dict().items()
        if "lora_" not in k and not _trained(k)
    }
    lora_before = {n: p.clone() for n, p in trainer.unet.named_parameters() if "lora_" in n}
    assert lora_before and all(
        p.requires_grad for n, p in trainer.unet.named_parameters() if "lora_" in n
    )
    initial_loss = _training_inputs_loss(trainer, 1)
    assert math.isclose(initial_loss, 2 * math.log(2), rel_tol=1e-4)  # LoRA B=0: policy == ref
    trainer.train()
    after = dict(trainer.unet.named_parameters())
    assert any(not torch.equal(after[n], v) for n, v in lora_before.items())
    for k, v in trainer.unet.state_dict().items():
        if k in base:
            assert torch.equal(v, base[k]), k
    run = tmp_path / "run"
    assert (run / "lora.safetensors").is_file()
    runner = CliRunner()
    assert runner.invoke(app, ["bank", "tiny-pipeline", str(tmp_path / "sd")]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "generate",
            "a dog",
            "-e",
            "awe",
            "--model",
            str(tmp_path / "sd"),
            "--bank",
            str(run / "bank.safetensors"),
            "--adapter",
            str(run / "adapter.safetensors"),
            "--lora",
            str(run / "lora.safetensors"),
            "--out",
            str(tmp_path / "img"),
            "--steps",
            "2",
            "--size",
            "32",
        ],
    )
    assert result.exit_code == 0, result.output
    sidecar = next((tmp_path / "img").glob("*.json")).read_text()
    assert "lora.safetensors" in sidecar


def test_beta_is_the_reference_codes_beta_dpo_and_twice_diffusers_port():
    """The README's claim, as code: the Diffusion-DPO reference scripts' loss with beta_dpo
    equals ours with beta = beta_dpo; diffusers' port with beta_dpo equals ours with 2x."""
    import torch.nn.functional as F

    model = {"w": torch.tensor([0.11, 0.29, 0.5]), "l": torch.tensor([0.2, 0.21, 0.4])}
    ref = {"w": torch.tensor([0.14, 0.3, 0.45]), "l": torch.tensor([0.16, 0.2, 0.42])}
    model_diff, ref_diff = model["w"] - model["l"], ref["w"] - ref["l"]
    beta_dpo = 7.0
    # the reference code (SD 1.5 and SDXL scripts)
    reference = -F.logsigmoid(-0.5 * beta_dpo * (model_diff - ref_diff)).mean()
    ours = dpo_objective(model, ref, beta=beta_dpo, nvp_weight=0.0).loss
    assert torch.isclose(ours, reference)
    # diffusers' examples/research_projects/diffusion_dpo/train_diffusion_dpo.py
    diffusers_port = -F.logsigmoid(beta_dpo * (ref_diff - model_diff)).mean()
    assert torch.isclose(
        dpo_objective(model, ref, beta=2 * beta_dpo, nvp_weight=0.0).loss, diffusers_port
    )
    assert not torch.isclose(ours, diffusers_port)
