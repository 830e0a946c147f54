"""MC-Diffusion on checkpoints in the real SD 1.5 / SDXL layouts: one regression test per defect
found by using the image half as a new user would (issue 10, defects 1-9)."""

import threading

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from emotion_director.cli import app
from emotion_director.diffusion.bank import BankError, VisualPromptBank
from emotion_director.diffusion.bank_init import (
    HFImageEncoder,
    HFTextEncoder,
    init_bank,
    load_dataset,
)
from emotion_director.diffusion.pipeline import MCDiffusionPipeline
from emotion_director.diffusion.training import DPOConfig, DPOTrainer, make_toy_preferences
from emotion_director.diffusion.training.loss import dpo_objective
from emotion_director.errors import AdapterError

from .conftest import GEN_KW, write_emoset

runner = CliRunner()


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_preferences(tmp_path_factory.mktemp("toy"), per_emotion=2)


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
            "loss": {"beta": 500},
            "train": {
                "output_dir": str(out),
                "max_steps": 2,
                "batch_size": 2,
                "learning_rate": 1e-3,
                "checkpoint_every": 100,
                "validation_every": None,
                **train,
            },
        }
    )


def pipeline_from(model_dir, bank, **kwargs):
    pipe = MCDiffusionPipeline.from_pretrained(model_dir, bank=bank, **kwargs)
    return pipe


def images(pipe, prompt, emotion, seed=0, **kwargs):
    return pipe(
        prompt, emotion, generator=torch.Generator().manual_seed(seed), **GEN_KW, **kwargs
    ).images


# ----- the layouts themselves ------------------------------------------------------------
def test_tiny_checkpoints_use_the_real_folder_layouts_and_classes(
    sd15_dir, sdxl_dir, image_encoder_dirs
):
    import json

    sd15 = json.loads((sd15_dir / "model_index.json").read_text())
    assert sd15["text_encoder"] == ["transformers", "CLIPTextModel"]
    assert sd15["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert sd15["_class_name"] == "StableDiffusionPipeline"
    sdxl = json.loads((sdxl_dir / "model_index.json").read_text())
    assert sdxl["_class_name"] == "StableDiffusionXLPipeline"
    assert sdxl["text_encoder_2"] == ["transformers", "CLIPTextModelWithProjection"]
    for folder in ("scheduler", "text_encoder", "tokenizer", "unet", "vae"):
        assert (sd15_dir / folder).is_dir() and (sdxl_dir / folder).is_dir()
    assert (sdxl_dir / "tokenizer_2" / "tokenizer_config.json").is_file()
    assert not (sd15_dir / "text_encoder" / "tokenizer_config.json").exists()  # as in real ones
    unet = json.loads((sdxl_dir / "unet" / "config.json").read_text())
    assert unet["addition_embed_type"] == "text_time" and "cross_attention_dim" in unet
    clip = json.loads((image_encoder_dirs["clip"] / "config.json").read_text())
    dino = json.loads((image_encoder_dirs["dinov2"] / "config.json").read_text())
    assert clip["architectures"] == ["CLIPVisionModelWithProjection"]
    assert dino["architectures"] == ["Dinov2Model"]
    assert (image_encoder_dirs["dinov2"] / "preprocessor_config.json").is_file()


# ----- defect 1: SDXL training -----------------------------------------------------------
def test_sdxl_layout_trains_a_dpo_step(tmp_path, toy, sdxl_dir):
    trainer = DPOTrainer(dpo_config(toy, tmp_path / "run", sdxl_dir, max_steps=1))
    trainer.train()
    assert trainer.step == 1 and (tmp_path / "run" / "adapter.safetensors").is_file()


# ----- defect 2: gradient checkpointing --------------------------------------------------
@pytest.mark.parametrize("kind", ["sd15", "sdxl"])
def test_gradient_checkpointing_trains_and_gives_the_same_gradients(
    tmp_path, toy, model_dirs, kind
):
    grads = []
    for checkpointing in (False, True):
        trainer = DPOTrainer(
            dpo_config(
                toy,
                tmp_path / str(checkpointing),
                model_dirs[kind],
                gradient_checkpointing=checkpointing,
            )
        )
        assert trainer.unet.is_gradient_checkpointing == checkpointing
        trainer.unet.train()  # diffusers checkpoints only in training mode
        terms = trainer.compute_loss(trainer.batch_for(0, 0), torch.Generator().manual_seed(3))
        terms.loss.backward()
        grads.append(
            torch.cat(
                [p.grad.flatten() for p in trainer.trainable.parameters() if p.grad is not None]
            )
        )
    assert grads[0].abs().sum() > 0
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-7)


# ----- defect 3: bank keys and the pipeline's query live in one space ---------------------
@pytest.mark.parametrize("kind", ["sd15", "sdxl"])
@pytest.mark.parametrize("argument", ["model", "text_encoder"])
def test_bank_keys_equal_the_pipelines_retrieval_query(model_dirs, kind, argument):
    folder = model_dirs[kind]
    source = str(folder if argument == "model" else folder / "text_encoder")
    texts = ["a dog in a park", "a storm over the sea at night"]
    keys = HFTextEncoder.from_pretrained(source)(texts)
    again = HFTextEncoder.from_pretrained(source)(texts)
    assert torch.equal(keys, again)  # no randomly initialised layer: every load gives the same keys
    pipe = MCDiffusionPipeline.from_pretrained(
        folder, bank=VisualPromptBank.random(4, 16, keys.shape[1])
    )
    query = pipe.embed_text_for_retrieval(texts)
    cosine = torch.nn.functional.cosine_similarity(keys, query, dim=-1)
    assert torch.allclose(cosine, torch.ones(2), atol=1e-5), cosine


# ----- defect 4: the feature cache knows its encoders -------------------------------------
def test_feature_cache_is_not_reused_for_other_encoders(
    tmp_path, sd15_dir, sdxl_dir, image_encoder_dirs
):
    items = load_dataset(write_emoset(tmp_path / "emoset", per_emotion=2))
    image = HFImageEncoder.from_pretrained(str(image_encoder_dirs["clip"]))
    cache = tmp_path / "cache"
    a = init_bank(
        items, image, HFTextEncoder.from_pretrained(str(sd15_dir)), num_tokens=2, cache_dir=cache
    )
    other = str(sdxl_dir / "text_encoder_2")  # another encoder with keys of the same width
    fresh = init_bank(items, image, HFTextEncoder.from_pretrained(other), num_tokens=2)
    b = init_bank(items, image, HFTextEncoder.from_pretrained(other), num_tokens=2, cache_dir=cache)
    assert not torch.allclose(a.text_keys, b.text_keys)
    assert torch.allclose(
        b.text_keys, fresh.text_keys
    )  # the new encoder's features, not stale ones
    assert b.metadata["text_encoder"] == other


# ----- defect 5: concurrent generation ----------------------------------------------------
def test_four_threads_generate_what_sequential_calls_generate(sd15_dir):
    bank = VisualPromptBank.random(4, 16, 32, seed=1)
    pipe = pipeline_from(sd15_dir, bank)
    jobs = [
        ("a dog", "awe", 0),
        ("a cat", "fear", 1),
        ("a storm", "anger", 2),
        ("a sun", "amusement", 3),
    ]
    sequential = [images(pipe, p, e, seed=s) for p, e, s in jobs]
    results: dict[int, np.ndarray] = {}
    errors = []

    def work(i):
        try:
            results[i] = images(pipe, jobs[i][0], jobs[i][1], seed=jobs[i][2])
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, expected in enumerate(sequential):
        assert np.allclose(results[i], expected, atol=1e-5), i
    assert not np.allclose(sequential[0], sequential[1])


# ----- defect 6: retrieval weights gate the tokens ---------------------------------------
def test_a_token_with_weight_zero_has_no_influence_on_the_image(sd15_dir):
    bank = VisualPromptBank.random(4, 16, 32, seed=1)
    pipe = pipeline_from(sd15_dir, bank, retrieval_top_k=None)
    text = pipe.embed_text_for_retrieval("a dog")
    keys = bank.text_keys[bank.index("awe")]
    # make token 3's key point away from the prompt: at a low temperature its weight is ~0
    keys[3] = -text
    pipe.retrieval_temperature = 0.02
    weights = pipe.retrieve(["a dog"], ["awe"], text[None])[0].weights
    assert weights[3] < 1e-12 and weights.max() > 0.5
    before = images(pipe, "a dog", "awe")
    bank.tokens[bank.index("awe"), 3] += 50.0  # change the dropped token a lot
    after = images(pipe, "a dog", "awe")
    assert np.allclose(before, after, atol=1e-6)
    bank.tokens[bank.index("awe"), int(weights.argmax())] += 50.0  # a kept token does matter
    assert not np.allclose(after, images(pipe, "a dog", "awe"), atol=1e-3)


# ----- defect 7: mixed precision ----------------------------------------------------------
def test_mixed_precision_casts_frozen_modules_and_keeps_trained_ones_fp32(
    tmp_path, toy, sd15_dir, monkeypatch, fresh_accelerate_state
):
    from accelerate.state import AcceleratorState

    trainer = DPOTrainer(dpo_config(toy, tmp_path / "bf16", sd15_dir, mixed_precision="bf16"))
    frozen = [trainer.pipe.vae, trainer.pipe.text_encoder]
    assert all(next(m.parameters()).dtype == torch.bfloat16 for m in frozen)
    assert trainer.unet.conv_in.weight.dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in trainer.trainable.parameters())
    trainer.train()
    assert torch.isfinite(trainer.trainable.tokens).all()
    # unset in the YAML: accelerate's own config (here its environment variable) decides
    AcceleratorState._reset_state(True)
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    deferred = DPOTrainer(dpo_config(toy, tmp_path / "env", sd15_dir))
    assert deferred.accelerator.mixed_precision == "bf16"
    assert deferred.pipe.vae.dtype == torch.bfloat16


# ----- defect 8: temperature, logging, loss conventions -----------------------------------
def test_temperature_zero_is_refused_not_replaced(sd15_dir):
    base = MCDiffusionPipeline.from_pretrained(sd15_dir).pipeline
    with pytest.raises(BankError, match="temperature must be > 0"):
        MCDiffusionPipeline(base, bank=VisualPromptBank.random(4, 16, 32), retrieval_temperature=0)
    result = runner.invoke(
        app,
        [
            "generate",
            "a dog",
            "-e",
            "awe",
            "--model",
            str(sd15_dir),
            "--bank",
            "x.safetensors",
            "--retrieval-temperature",
            "0",
        ],
    )
    assert result.exit_code == 2 and "must be > 0" in result.stderr


def test_training_temperature_travels_with_the_bank_to_generation(tmp_path, toy, sd15_dir):
    cfg = dpo_config(toy, tmp_path / "run", sd15_dir, max_steps=1)
    cfg.model.retrieval_temperature = 0.37
    DPOTrainer(cfg).train()
    bank = VisualPromptBank.load(tmp_path / "run" / "bank.safetensors")
    assert bank.metadata["retrieval_temperature"] == 0.37
    pipe = MCDiffusionPipeline.from_pretrained(sd15_dir, bank=tmp_path / "run")
    assert pipe.retrieval_temperature == 0.37
    out = tmp_path / "img"
    result = runner.invoke(
        app,
        [
            "generate",
            "a dog",
            "-e",
            "awe",
            "--model",
            str(sd15_dir),
            "--bank",
            str(tmp_path / "run" / "bank.safetensors"),
            "--out",
            str(out),
            "--steps",
            "2",
            "--size",
            "32",
            "--retrieval-temperature",
            "0.5",
        ],
    )
    assert result.exit_code == 0, result.output
    import json

    assert json.loads(next(out.glob("*.json")).read_text())["retrieval_temperature"] == 0.5


def test_metrics_are_averaged_over_processes(tmp_path, toy, sd15_dir):
    trainer = DPOTrainer(dpo_config(toy, tmp_path / "run", sd15_dir, max_steps=1, log_every=1))
    calls = []

    def reduce(tensor, reduction="mean"):  # a second rank whose loss is 3x rank 0's
        calls.append(reduction)
        return (tensor + 3 * tensor) / 2

    trainer.accelerator.reduce = reduce
    seen = {}
    trainer.train(on_step=lambda step, metrics: seen.update(metrics))
    row = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[1].split(",")
    assert calls == ["mean"]
    assert float(row[1]) == pytest.approx(seen["loss"], rel=1e-4)
    assert seen["loss"] == pytest.approx(2 * 2 * np.log(2), rel=1e-3)  # 2x the single-rank loss


def test_a_tie_counts_half_an_accuracy_point():
    err = {
        "w": torch.tensor([0.1, 0.2]),
        "l": torch.tensor([0.3, 0.4]),
        "neg": torch.tensor([0.5, 0.6]),
    }
    terms = dpo_objective(err, err, beta=10.0)
    assert terms.accuracy == 0.5 and terms.nvp_accuracy == 0.5


# ----- defect 9: nothing is overwritten silently -----------------------------------------
def test_train_dpo_refuses_a_folder_of_other_files(tmp_path, toy, sd15_dir):
    """Hostile round 5: train.output_dir naming an eval run's folder wrote the bank, adapter,
    checkpoints and metrics among its results (exit 0)."""
    run = tmp_path / "eval_run"
    run.mkdir()
    (run / "results.jsonl").write_text('{"system": "identity"}\n')
    config_file = tmp_path / "cfg.yaml"
    raw = dpo_config(toy, run, sd15_dir, max_steps=1).model_dump(mode="json")
    config_file.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["train", "dpo", "--config", str(config_file)])
    assert result.exit_code == 2 and "holds other files (results.jsonl)" in result.stderr
    assert sorted(p.name for p in run.iterdir()) == ["results.jsonl"]


def test_train_dpo_refuses_to_overwrite_an_earlier_run(tmp_path, toy, sd15_dir):
    config_file = tmp_path / "cfg.yaml"
    raw = dpo_config(toy, tmp_path / "run", sd15_dir, max_steps=1).model_dump(mode="json")
    config_file.write_text(yaml.safe_dump(raw))
    first = runner.invoke(app, ["train", "dpo", "--config", str(config_file)])
    assert first.exit_code == 0, first.output
    before = (tmp_path / "run" / "bank.safetensors").read_bytes()
    again = runner.invoke(app, ["train", "dpo", "--config", str(config_file)])
    assert again.exit_code == 2 and "already holds a run" in again.stderr
    assert "--resume latest" in again.stderr
    assert (tmp_path / "run" / "bank.safetensors").read_bytes() == before
    assert len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 2
    resumed = runner.invoke(
        app, ["train", "dpo", "--config", str(config_file), "--resume", "latest"]
    )
    assert resumed.exit_code == 0, resumed.output


def test_generate_writes_alongside_and_names_files_by_every_setting(tmp_path, sd15_dir):
    bank = VisualPromptBank.random(4, 16, 32).save(tmp_path / "bank.safetensors")
    base = [
        "generate",
        "a dog",
        "-e",
        "awe",
        "--model",
        str(sd15_dir),
        "--bank",
        str(bank),
        "--out",
        str(tmp_path / "out"),
        "--size",
        "32",
    ]
    first = runner.invoke(app, [*base, "--steps", "2"])
    second = runner.invoke(app, [*base, "--steps", "3"])
    third = runner.invoke(app, [*base, "--steps", "2"])
    assert first.exit_code == second.exit_code == third.exit_code == 0, third.output
    assert first.stdout != second.stdout  # other settings, other name
    assert third.stdout.strip().endswith("-v2.png") and "exists; wrote" in third.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 3


# ----- the diffusers-native API ----------------------------------------------------------
def test_load_visual_prompt_reads_a_training_folder_by_weight_name(tmp_path, toy, sd15_dir):
    DPOTrainer(dpo_config(toy, tmp_path / "run", sd15_dir, max_steps=1)).train()
    (tmp_path / "run" / "adapter.safetensors").rename(tmp_path / "run" / "vp.safetensors")
    pipe = MCDiffusionPipeline.from_pretrained(sd15_dir)
    pipe.load_visual_prompt(tmp_path / "run", weight_name="vp.safetensors")
    trained = images(pipe, "a dog", "awe")
    pipe.load_visual_prompt(tmp_path / "run" / "bank.safetensors")  # bank only: untrained K/V
    assert not np.allclose(trained, images(pipe, "a dog", "awe"))
    with pytest.raises(AdapterError, match="adapter weights not found"):
        pipe.load_visual_prompt(tmp_path / "run", weight_name="missing.safetensors")


def test_lora_is_saved_in_diffusers_format_and_lora_alone_can_train(tmp_path, toy, sdxl_dir):
    pytest.importorskip("peft")
    cfg = dpo_config(toy, tmp_path / "run", sdxl_dir, max_steps=2)
    cfg.model.lora_rank = 4
    cfg.model.train_bank = cfg.model.train_projector = cfg.model.train_kv = False
    trainer = DPOTrainer(cfg)
    assert trainer.reference.initial == {}  # the reference is the UNet with adapters disabled
    trainer.train()
    from diffusers import DiffusionPipeline

    base = DiffusionPipeline.from_pretrained(sdxl_dir)
    base.load_lora_weights(tmp_path / "run", weight_name="lora.safetensors")  # diffusers' loader
    assert any("lora" in n for n, _ in base.unet.named_parameters())
    loaded = {n: p for n, p in base.unet.named_parameters() if "lora_B" in n}
    trained = {n: p for n, p in trainer.unet.named_parameters() if "lora_B" in n}
    assert len(loaded) == len(trained) and any(p.abs().sum() > 0 for p in loaded.values())


def test_tiny_clip_tokenizer_leaves_no_temporary_folder(tmp_path, monkeypatch):
    import tempfile

    from emotion_director.diffusion.tiny import tiny_clip_tokenizer

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for _ in range(3):
        tokenizer = tiny_clip_tokenizer()
    assert list(tmp_path.iterdir()) == []
    assert tokenizer("a dog in the park").input_ids[:2] == [
        0,
        tokenizer.convert_tokens_to_ids("a</w>"),
    ]


def test_train_dpo_shows_one_progress_bar_with_eta_and_loss(tmp_path, toy, sd15_dir):
    config_file = tmp_path / "cfg.yaml"
    raw = dpo_config(toy, tmp_path / "run", sd15_dir, max_steps=2).model_dump(mode="json")
    config_file.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["train", "dpo", "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    assert "train dpo" in result.stderr and "2/2" in result.stderr
    assert "ETA" in result.stderr
    import re

    assert re.search(r"loss \d+\.\d{4} acc", result.stderr)
    assert "Loading pipeline components" not in result.stderr  # diffusers' own bar stays out
    assert "step 2/2 loss" not in result.stderr  # no bare log lines


def test_a_model_folder_under_the_home_folder_loads_as_written(sd15_dir, monkeypatch):
    # a review: "--model=~/sd15" (a shell leaves it unexpanded) passed the folder check and was
    # then handed to diffusers as a hub id ("Repo id must use alphanumeric chars")
    from emotion_director.diffusion.pipeline import MCDiffusionPipeline

    monkeypatch.setenv("HOME", str(sd15_dir.parent))
    pipe = MCDiffusionPipeline.from_pretrained(f"~/{sd15_dir.name}", bank=None)
    assert type(pipe.pipeline).__name__ == "StableDiffusionPipeline"
