"""Regression tests for MC-Diffusion's round-3 defects (issue 23): one test (or two) per defect,
each failing on the code before its fix. Tiny components in the real layouts, 2 steps, 32 px."""

import json
import os
import shutil
import threading

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from typer.testing import CliRunner

from emotion_director.cli import app
from emotion_director.diffusion.attention import pack_visual_prompt
from emotion_director.diffusion.bank import BankError, VisualPromptBank
from emotion_director.diffusion.bank_init import (
    HFImageEncoder,
    HFTextEncoder,
    init_bank,
    load_dataset,
)
from emotion_director.diffusion.pipeline import MCDiffusionPipeline
from emotion_director.diffusion.tiny import build_tiny_pipeline
from emotion_director.diffusion.training import DPOConfig, DPOTrainer, make_toy_preferences

from .conftest import run, unet_call, write_emoset

runner = CliRunner()


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_preferences(tmp_path_factory.mktemp("toy"), per_emotion=1)


def dpo_config(toy, out, pretrained, **train):
    return DPOConfig.parse(
        {
            "model": {
                "pretrained": str(pretrained),
                "bank": "random",
                "bank_tokens": 4,
                "bank_dim": 16,
            },
            "data": {"preferences": str(toy), "resolution": 32},
            "train": {
                "output_dir": str(out),
                "max_steps": 1,
                "batch_size": 2,
                "checkpoint_every": 1,
                "validation_every": None,
                **train,
            },
        }
    )


def one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1, (
        result.stderr
    )
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


# ----- defect 1: the feature cache key covers every weight and each image's bytes ---------
def test_feature_cache_is_not_reused_when_a_middle_layer_of_the_encoder_changes(
    tmp_path, sd15_dir, image_encoder_dirs
):
    from transformers import CLIPVisionModelWithProjection

    items = load_dataset(write_emoset(tmp_path / "emoset", per_emotion=2))
    text = HFTextEncoder.from_pretrained(str(sd15_dir))
    folder = tmp_path / "clip"
    shutil.copytree(image_encoder_dirs["clip"], folder)
    cache = tmp_path / "cache"
    first = init_bank(
        items, HFImageEncoder.from_pretrained(str(folder)), text, num_tokens=2, cache_dir=cache
    )
    model = CLIPVisionModelWithProjection.from_pretrained(folder)
    with torch.no_grad():  # neither the first nor the last tensor of the state dict
        model.vision_model.encoder.layers[0].mlp.fc1.weight.mul_(3.0)
    model.save_pretrained(folder)
    changed = HFImageEncoder.from_pretrained(str(folder))
    fresh = init_bank(items, changed, text, num_tokens=2)
    cached = init_bank(items, changed, text, num_tokens=2, cache_dir=cache)
    assert not torch.allclose(fresh.tokens, first.tokens)
    assert torch.equal(cached.tokens, fresh.tokens)  # encoded again, not the stale features


def test_feature_cache_is_not_reused_when_an_image_is_replaced_at_the_same_path(
    tmp_path, sd15_dir, image_encoder_dirs
):
    root = write_emoset(tmp_path / "emoset", per_emotion=2)
    items = load_dataset(root)
    text = HFTextEncoder.from_pretrained(str(sd15_dir))
    image = HFImageEncoder.from_pretrained(str(image_encoder_dirs["dinov2"]))
    cache = tmp_path / "cache"
    first = init_bank(items, image, text, num_tokens=2, cache_dir=cache)
    target = items[0].image
    stat = target.stat()
    Image.fromarray(np.full((32, 32, 3), 255, dtype=np.uint8)).save(target, format="JPEG")
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as `cp -p` would leave it
    again = load_dataset(root)
    fresh = init_bank(again, image, text, num_tokens=2)
    cached = init_bank(again, image, text, num_tokens=2, cache_dir=cache)
    assert not torch.allclose(fresh.tokens, first.tokens)
    assert torch.equal(cached.tokens, fresh.tokens)


# ----- defect 3: inference_mode -----------------------------------------------------------
def test_pipe_runs_inside_inference_mode_and_equals_no_grad(base_pipeline, bank):
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    with torch.no_grad():
        expected = run(pipe, "a dog", "awe", negative_emotion="anger")
    with torch.inference_mode():
        got = run(pipe, "a dog", "awe", negative_emotion="anger")
        again = run(pipe, "a dog", "awe", negative_emotion="anger")
    assert np.array_equal(got, expected) and np.array_equal(again, expected)


# ----- defect 4: the projector's initial weights do not depend on the global RNG -----------
def test_without_adapter_the_same_seed_gives_the_same_image_whatever_the_global_rng(bank):
    outputs, projectors = [], []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)  # as two processes, whose global RNGs differ
        base = build_tiny_pipeline("sd15")
        base.set_progress_bar_config(disable=True)
        state = torch.random.get_rng_state()
        pipe = MCDiffusionPipeline(base, bank=bank)
        assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is left alone
        projectors.append(pipe.visual_prompt_adapter.projector.state_dict())
        outputs.append(run(pipe, "a dog", "awe", seed=3))
    assert all(torch.equal(v, projectors[1][k]) for k, v in projectors[0].items())
    assert np.array_equal(outputs[0], outputs[1])


# ----- defect 6: each data-parallel rank draws its own noise --------------------------------
def test_each_rank_draws_its_own_noise_and_timesteps_from_seed_and_rank():
    from emotion_director.diffusion.training.trainer import step_generator

    def draws(rank, step=5):
        g = step_generator(0, step, 0, rank)
        return torch.randn(4, 4, 4, generator=g), torch.randint(0, 1000, (4,), generator=g)

    rank0, rank1 = draws(0), draws(1)
    assert not torch.equal(rank0[0], rank1[0]) and not torch.equal(rank0[1], rank1[1])
    assert all(torch.equal(a, b) for a, b in zip(draws(1), rank1))  # resumable: same inputs
    assert not torch.equal(draws(0, step=6)[0], rank0[0])
    seeds = {
        step_generator(0, s, m, r).initial_seed()
        for s in range(50)
        for m in range(3)
        for r in range(4)
    }
    assert len(seeds) == 50 * 3 * 4  # no (step, micro, rank) shares another's draws


def test_the_training_loop_seeds_each_rank_differently(tmp_path, toy, sd15_dir, monkeypatch):
    from accelerate import Accelerator

    seeds = {}
    for rank in (0, 1):
        monkeypatch.setattr(Accelerator, "process_index", property(lambda self, r=rank: r))
        trainer = DPOTrainer(dpo_config(toy, tmp_path / str(rank), sd15_dir))
        original = trainer.compute_loss

        def spy(records, generator, original=original, rank=rank):
            seeds[rank] = generator.initial_seed()
            return original(records, generator)

        trainer.compute_loss = spy
        trainer.train()
    assert seeds[0] != seeds[1]
    from emotion_director.diffusion.training.trainer import step_generator

    assert seeds[1] == step_generator(0, 0, 0, 1).initial_seed()


# ----- defect 7: the scale is captured once per call ----------------------------------------
def test_set_visual_prompt_scale_from_another_thread_leaves_a_running_generation_alone(
    base_pipeline, bank
):
    pipe = MCDiffusionPipeline(base_pipeline, bank=bank)
    expected = run(pipe, "a dog", "awe")

    def change_scale_meanwhile(p, step, timestep, callback_kwargs):
        if step == 0:  # between the two denoising steps, another thread turns the branch off
            other = threading.Thread(target=pipe.set_visual_prompt_scale, args=(0.0,))
            other.start()
            other.join()
        return callback_kwargs

    got = run(pipe, "a dog", "awe", callback_on_step_end=change_scale_meanwhile)
    assert np.array_equal(got, expected)
    assert pipe._scale() == 0.0  # the next call uses it
    pipe_off = run(pipe, "a dog", "awe")
    assert np.array_equal(pipe_off, run(pipe, "a dog", "awe", visual_prompt_scale=0.0))
    assert not np.array_equal(pipe_off, expected)


# ----- defect 8: weight 0 means exactly zero attention --------------------------------------
@pytest.mark.parametrize("kernel", ["auto", "key"])  # auto: the mask on a CPU
def test_a_token_of_weight_zero_gets_exactly_zero_attention(
    base_pipeline, bank, restore_kernel, kernel
):
    from emotion_director.diffusion.attention import VisualPromptAttnProcessor

    MCDiffusionPipeline(base_pipeline, bank=bank)
    VisualPromptAttnProcessor.kernel = kernel
    weights = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    tokens = bank.tokens[:1].clone()
    packed = pack_visual_prompt(tokens, weights)
    assert torch.isneginf(packed[0, 0, 2:, -2]).all()  # log 0 = -inf, not log(1e-30) = -69
    changed = tokens.clone()
    changed[0, 2:] = 1e3 * torch.randn(2, bank.dim)  # the dropped tokens, changed a lot
    out = unet_call(base_pipeline.unet, packed)
    assert torch.isfinite(out).all()
    assert torch.equal(out, unet_call(base_pipeline.unet, pack_visual_prompt(changed, weights)))
    kept = tokens.clone()
    kept[0, 0] += 5.0  # a kept token does matter
    assert not torch.allclose(out, unet_call(base_pipeline.unet, pack_visual_prompt(kept, weights)))


def test_a_row_whose_weights_are_all_zero_has_no_visual_prompt_and_no_nan(base_pipeline, bank):
    MCDiffusionPipeline(base_pipeline, bank=bank)
    tokens = bank.tokens[:1]
    packed = pack_visual_prompt(tokens, torch.zeros(1, 4))
    assert torch.isfinite(packed).all() and packed[0, 0, 0, -1] == 0  # its scale is 0
    out = unet_call(base_pipeline.unet, packed)
    off = unet_call(base_pipeline.unet, pack_visual_prompt(tokens, None, row_scale=0.0))
    assert torch.isfinite(out).all() and torch.allclose(out, off, atol=1e-6)


# ----- defect 9: the VAE stays float32 in a float16 pipeline --------------------------------
def _overflowing(module):
    """Weights that push the VAE's activations past float16's range (65504)."""
    with torch.no_grad():
        module.weight.mul_(3e4)


@pytest.mark.parametrize("kind", ["sd15", "sdxl"])
def test_a_float16_pipeline_keeps_its_vae_in_float32(kind, bank):
    base = build_tiny_pipeline(kind).to(dtype=torch.float16)
    base.set_progress_bar_config(disable=True)
    _overflowing(base.vae.post_quant_conv)
    pipe = MCDiffusionPipeline(base, bank=bank)
    pipe.visual_prompt_adapter.to(dtype=torch.float16)
    assert base.vae.dtype == torch.float32 and base.unet.dtype == torch.float16
    images = run(pipe, "a dog", "awe")
    assert np.isfinite(images).all()
    pipe.to(dtype=torch.float16)  # a later cast keeps it too
    assert base.vae.dtype == torch.float32


def test_fp16_training_encodes_with_a_float32_vae(tmp_path, toy, sd15_dir, fresh_accelerate_state):
    trainer = DPOTrainer(dpo_config(toy, tmp_path / "run", sd15_dir, mixed_precision="fp16"))
    assert trainer.pipe.text_encoder.dtype == torch.float16
    assert trainer.pipe.vae.dtype == torch.float32
    _overflowing(trainer.pipe.vae.encoder.conv_in)
    import random

    latent = trainer._latent(trainer.records[0].image_w, random.Random(0))
    assert torch.isfinite(latent).all()


# ----- defect 10: a bank's text keys must come from the pipeline's text_encoder -------------
@pytest.fixture(scope="module")
def sdxl_banks(tmp_path_factory, sdxl_dir, image_encoder_dirs):
    root = tmp_path_factory.mktemp("sdxl-banks")
    items = load_dataset(write_emoset(root / "emoset", per_emotion=2))
    image = HFImageEncoder.from_pretrained(str(image_encoder_dirs["dinov2"]))
    banks = {}
    for name, source in (("first", sdxl_dir), ("second", sdxl_dir / "text_encoder_2")):
        bank = init_bank(items, image, HFTextEncoder.from_pretrained(str(source)), num_tokens=2)
        banks[name] = bank.save(root / f"{name}.safetensors")
    return banks


def test_sdxl_refuses_a_bank_built_from_text_encoder_2_naming_both(sdxl_dir, sdxl_banks):
    with pytest.raises(
        BankError,
        match="text_encoder_2 \\(CLIPTextModelWithProjection\\).*text_encoder \\(CLIPTextModel\\)",
    ):
        MCDiffusionPipeline.from_pretrained(sdxl_dir, bank=sdxl_banks["second"])
    second = VisualPromptBank.load(sdxl_banks["second"])
    assert second.metadata["text_encoder_subfolder"] == "text_encoder_2"
    assert second.metadata["text_encoder_class"] == "CLIPTextModelWithProjection"
    pipe = MCDiffusionPipeline.from_pretrained(sdxl_dir, bank=sdxl_banks["first"])
    assert pipe.visual_prompt_bank.metadata["text_encoder_subfolder"] == "text_encoder"
    with pytest.raises(BankError, match="text_encoder_2"):
        pipe.load_visual_prompt(second)
    assert pipe.visual_prompt_adapter is None  # refused: nothing half-loaded
    # a bank from before the provenance was recorded is judged by the folder it names
    old = VisualPromptBank(
        second.tokens, second.text_keys, metadata={"text_encoder": str(sdxl_dir / "text_encoder_2")}
    )
    with pytest.raises(BankError, match="text_encoder_2"):
        pipe.load_visual_prompt(old)
    pipe = MCDiffusionPipeline.from_pretrained(sdxl_dir, bank=second, retrieval_temperature=None)
    assert pipe.visual_prompt_adapter is not None  # retrieval off: the keys are not used


def test_cli_generate_with_a_text_encoder_2_bank_is_one_red_line(tmp_path, sdxl_dir, sdxl_banks):
    result = runner.invoke(
        app,
        [
            "generate",
            "a dog",
            "-e",
            "awe",
            "--model",
            str(sdxl_dir),
            "--bank",
            str(sdxl_banks["second"]),
            "--out",
            str(tmp_path),
            "--steps",
            "1",
            "--size",
            "32",
        ],
    )
    one_line_error(result, "text_encoder_2", "CLIPTextModel")


# ----- defect 2: a resumed run keeps its config unless --overwrite ----------------------------
def test_resume_with_another_config_is_refused_naming_the_fields_unless_overwrite(
    tmp_path, toy, sd15_dir
):
    run_dir = tmp_path / "run"
    raw = dpo_config(toy, run_dir, sd15_dir).model_dump(mode="json")
    config_file = tmp_path / "cfg.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    assert runner.invoke(app, ["train", "dpo", "--config", str(config_file)]).exit_code == 0
    longer = runner.invoke(
        app,
        ["train", "dpo", "--config", str(config_file), "--resume", "latest", "--max-steps", "2"],
    )
    assert longer.exit_code == 0, longer.output  # more steps of the same training: fine
    saved = (run_dir / "config.json").read_text()
    bank = (run_dir / "bank.safetensors").read_bytes()
    raw["loss"]["beta"] = 2500.0
    raw["train"]["learning_rate"] = 0.001
    config_file.write_text(yaml.safe_dump(raw))
    refused = runner.invoke(
        app,
        ["train", "dpo", "--config", str(config_file), "--resume", "latest", "--max-steps", "3"],
    )
    one_line_error(refused, "loss.beta: 5000.0 -> 2500.0", "train.learning_rate", "--overwrite")
    assert json.loads((run_dir / "config.json").read_text()) == json.loads(saved)
    assert (run_dir / "bank.safetensors").read_bytes() == bank
    assert not (run_dir / "checkpoint-00000003").exists()
    with pytest.raises(Exception, match="loss.beta"):  # the library refuses too
        DPOTrainer(DPOConfig.from_yaml(config_file)).train(resume="latest")
    forced = runner.invoke(
        app,
        [
            "train",
            "dpo",
            "--config",
            str(config_file),
            "--resume",
            "latest",
            "--max-steps",
            "3",
            "--overwrite",
        ],
    )
    assert forced.exit_code == 0, forced.output
    assert json.loads((run_dir / "config.json").read_text())["loss"]["beta"] == 2500.0
    assert (run_dir / "checkpoint-00000003").is_dir()


def test_the_trainer_writes_its_files_atomically_never_through_a_symlink(tmp_path, toy, sd15_dir):
    run_dir = tmp_path / "run"
    DPOTrainer(dpo_config(toy, run_dir, sd15_dir)).train()
    outside = tmp_path / "outside.json"
    outside.write_text((run_dir / "config.json").read_text())
    kept = outside.read_text()
    (run_dir / "config.json").unlink()
    (run_dir / "config.json").symlink_to(outside)
    with pytest.raises(Exception, match="symlink"):
        DPOTrainer(dpo_config(toy, run_dir, sd15_dir, max_steps=2)).train(resume="latest")
    assert outside.read_text() == kept
    assert not list(run_dir.glob(".*.tmp"))  # no temporary file left behind


def test_a_size_the_machine_cannot_hold_or_the_target_as_negative_is_one_line(sd15_dir, tmp_path):
    # red-team G22: --size 100000 asked the allocator for 40 GB ("unexpected RuntimeError");
    # G27: -e awe --negative-emotion awe steered toward and away from one visual prompt
    from tests.cli_runner import run_cli

    bank = tmp_path / "bank.safetensors"
    VisualPromptBank.random(num_tokens=2, dim=768, text_dim=768).save(bank)
    common = ["generate", "a dog", "-e", "awe", "--model", sd15_dir, "--bank", bank]
    common += ["--steps", "1", "--out", tmp_path / "img"]
    huge = run_cli(*common, "--size", "100000")
    assert huge.returncode == 2 and "up to 4096" in huge.stderr, huge.stderr[-2000:]
    same = run_cli(*common, "--size", "32", "--negative-emotion", "awe")
    assert same.returncode == 2, same.stderr[-2000:]
    assert "the negative emotion is the target emotion (awe)" in same.stderr
    assert "unexpected" not in huge.stderr + same.stderr
    assert not (tmp_path / "img").exists() or not any((tmp_path / "img").iterdir())
