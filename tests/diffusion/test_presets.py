"""The ``paper`` preset (Emotion-Director's configuration) next to the default, on tiny
checkpoints in the real layouts: DINO + CLIP image features for K-means, the MLP + LayerNorm +
self-attention projector, UNet LoRA and DPO input perturbation; the preset's choices recorded in
what is written and checked on load; bad input as one red line."""

import json

import pytest
import torch
from safetensors import safe_open
from typer.testing import CliRunner

from emotion_director.cli import app
from emotion_director.diffusion.attention import read_safetensors
from emotion_director.diffusion.bank import VisualPromptBank
from emotion_director.diffusion.bank_init import (
    HFTextEncoder,
    image_encoder_for,
    init_bank,
    load_dataset,
)
from emotion_director.diffusion.pipeline import MCDiffusionPipeline
from emotion_director.diffusion.presets import PRESETS, get_preset
from emotion_director.diffusion.projector import (
    PaperVisualPromptProjector,
    VisualPromptProjector,
    make_projector,
)
from emotion_director.diffusion.training import DPOConfig, DPOTrainer, make_toy_preferences
from emotion_director.diffusion.training.trainer import step_generator
from emotion_director.errors import AdapterError, ConfigError, SettingsError

from .conftest import write_emoset

runner = CliRunner()
DINO_DIM, CLIP_DIM = 32, 24  # the tiny encoders' feature sizes (tiny.write_tiny_image_encoder)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_preferences(tmp_path_factory.mktemp("toy"), per_emotion=1)


@pytest.fixture(scope="module")
def emoset(tmp_path_factory):
    return write_emoset(tmp_path_factory.mktemp("emoset"), per_emotion=2)


def _config(toy, out, pretrained="tiny:sd15", preset=None, model=None, **train):
    raw = {
        "model": {"pretrained": str(pretrained), "bank": "random", "bank_tokens": 2, "bank_dim": 8}
        | (model or {}),
        "data": {"preferences": str(toy), "resolution": 32},
        "loss": {"beta": 500},
        "train": {
            "output_dir": str(out),
            "max_steps": 1,
            "batch_size": 2,
            "learning_rate": 1e-3,
            "checkpoint_every": 100,
            "validation_every": None,
            **train,
        },
    }
    return DPOConfig.parse(raw, preset=preset)


def _header(path):
    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata()


def _error_line(result):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    return lines[0]


# ----- the presets as data -------------------------------------------------------------------
def test_presets_are_data_and_an_unknown_name_lists_them():
    paper, default = get_preset("paper"), get_preset(None)
    assert default.name == "default" and get_preset(" Paper ") is paper
    assert (paper.bank_features, paper.projector, paper.cluster_on) == (
        "dino+clip",
        "mlp-norm-attn",
        "image",
    )
    assert paper.lora_rank > 0 and paper.input_perturbation == 0.1
    assert (default.lora_rank, default.input_perturbation, default.projector) == (
        0,
        0.0,
        "mlp-attn-norm",
    )
    with pytest.raises(SettingsError, match="unknown preset 'papr': use one of default, paper"):
        get_preset("papr")
    assert set(PRESETS) == {"default", "paper"}


def test_config_fields_the_file_sets_win_over_the_preset(toy, tmp_path):
    cfg = _config(toy, tmp_path, preset="paper", model={"lora_rank": 0})
    assert cfg.preset == "paper" and cfg.model.lora_rank == 0  # the file's value wins
    assert cfg.model.projector == "mlp-norm-attn" and cfg.train.input_perturbation == 0.1
    plain = _config(toy, tmp_path)
    assert plain.preset is None and plain.model.projector is None
    assert (plain.model.lora_rank, plain.train.input_perturbation) == (0, 0.0)
    with pytest.raises(ConfigError, match="field 'preset': unknown preset 'nope'"):
        DPOConfig.parse({"preset": "nope", "data": {"preferences": str(toy)}})
    with pytest.raises(SettingsError, match="use one of default, paper"):
        DPOConfig.parse({"data": {"preferences": str(toy)}}, preset="nope")


# ----- the projector ------------------------------------------------------------------------
def test_paper_projector_shapes_masking_and_parameter_names():
    torch.manual_seed(0)
    proj = make_projector("mlp-norm-attn", DINO_DIM + CLIP_DIM, 32)
    assert isinstance(proj, PaperVisualPromptProjector) and proj.in_dim == 56
    tokens = torch.randn(2, 4, 56)
    assert proj(tokens).shape == (2, 4, 32)
    # a token of retrieval weight 0 (log-weight -inf) cannot change the others
    log_w = torch.log(torch.tensor([[0.5, 0.5, 0.0, 0.0]] * 2))
    changed = tokens.clone()
    changed[:, 2:] = torch.randn(2, 2, 56)
    assert torch.allclose(proj(tokens, log_w)[:, :2], proj(changed, log_w)[:, :2], atol=1e-6)
    # other parameter names than the default's: weights of one never load into the other
    names, default = set(proj.state_dict()), set(VisualPromptProjector(56, 32).state_dict())
    assert names - default == {"norm.weight", "norm.bias"}
    assert default - names == {
        f"{n}.{p}" for n in ("norm_attn", "norm_out") for p in "weight bias".split()
    }
    with pytest.raises(SettingsError, match="unknown projector 'mlp'"):
        make_projector("mlp", 4, 8)


def test_the_projector_follows_the_files_and_a_preset_that_disagrees_is_refused(tmp_path, sd15_dir):
    paper_bank = VisualPromptBank.random(2, 16, 32)
    paper_bank.metadata.update(get_preset("paper").bank_record())
    path = paper_bank.save(tmp_path / "paper.safetensors")
    pipe = MCDiffusionPipeline.from_pretrained(sd15_dir, bank=path)  # no preset: the bank says
    assert isinstance(pipe.visual_prompt_adapter.projector, PaperVisualPromptProjector)
    assert pipe.unet.encoder_hid_proj.projector is pipe.visual_prompt_adapter.projector
    with pytest.raises(SettingsError, match="built with the mlp-norm-attn projector, but --pre"):
        pipe.load_visual_prompt(path, preset="default")
    # adapter weights: their layout comes from the header, else from the parameter names
    pipe.load_visual_prompt(path)
    pipe.visual_prompt_adapter.save(tmp_path / "adapter.safetensors")  # no header record
    state = read_safetensors(tmp_path / "adapter.safetensors", what="adapter")
    plain = VisualPromptBank.random(2, 16, 32)  # an old bank: records nothing
    pipe.load_visual_prompt(plain, adapter_weights=state)
    assert isinstance(pipe.visual_prompt_adapter.projector, PaperVisualPromptProjector)
    with pytest.raises(AdapterError, match="trained with the mlp-norm-attn projector, not mlp-at"):
        pipe.load_visual_prompt(plain, projector="mlp-attn-norm", adapter_weights=state)
    pipe.load_visual_prompt(plain, preset="default")
    assert isinstance(pipe.visual_prompt_adapter.projector, VisualPromptProjector)


# ----- bank init ----------------------------------------------------------------------------
def test_paper_bank_init_clusters_concatenated_dino_and_clip_image_features(
    emoset, image_encoder_dirs, sd15_dir
):
    paper = get_preset("paper")
    image = image_encoder_for(
        paper.bank_features,
        str(image_encoder_dirs["clip"]),
        str(image_encoder_dirs["dinov2"]),
    )
    text = HFTextEncoder.from_pretrained(str(sd15_dir))
    items = load_dataset(emoset)
    bank = init_bank(items, image, text, num_tokens=2, cluster_on=paper.cluster_on)
    assert bank.dim == DINO_DIM + CLIP_DIM and bank.text_dim == 32
    assert bank.metadata["clustered_on"] == "image"
    assert "dinov2" in bank.metadata["image_encoder"] and "clip" in bank.metadata["image_encoder"]
    # each part of a token is a mean of L2-normalised features: never longer than 1
    assert float(bank.tokens[..., :DINO_DIM].norm(dim=-1).max()) <= 1 + 1e-5
    assert float(bank.tokens[..., DINO_DIM:].norm(dim=-1).max()) <= 1 + 1e-5
    batch = [items[0].image, items[1].image]
    from PIL import Image

    features = image([Image.open(p).convert("RGB") for p in batch])
    assert features.shape == (2, DINO_DIM + CLIP_DIM)
    with pytest.raises(SettingsError, match="pass --dino-encoder"):
        image_encoder_for("dino+clip", str(image_encoder_dirs["clip"]), None)
    with pytest.raises(SettingsError, match="is a Dinov2Model, not CLIP"):
        image_encoder_for(
            "dino+clip", str(image_encoder_dirs["dinov2"]), str(image_encoder_dirs["dinov2"])
        )
    with pytest.raises(SettingsError, match="is a CLIP model"):
        image_encoder_for(
            "dino+clip", str(image_encoder_dirs["clip"]), str(image_encoder_dirs["clip"])
        )
    with pytest.raises(SettingsError, match="add --preset paper"):
        image_encoder_for("image+text", str(image_encoder_dirs["clip"]), "facebook/dinov2-base")


# ----- input perturbation -------------------------------------------------------------------
def test_input_perturbation_is_applied_and_zero_reproduces_the_default(toy, tmp_path):
    seen = {}

    def loss(trainer, label):
        add_noise = trainer.noise_scheduler.add_noise

        def spy(latents, noise, timesteps):
            seen.setdefault(label, noise.clone())
            return add_noise(latents, noise, timesteps)

        trainer.noise_scheduler.add_noise = spy
        with torch.no_grad():
            return trainer.compute_loss(trainer.batch_for(0, 0), step_generator(0, 0, 0)).loss

    trainer = DPOTrainer(_config(toy, tmp_path / "a"))
    with torch.no_grad():  # a policy away from the reference: the loss then depends on the noise
        trainer.trainable.tokens.add_(torch.randn_like(trainer.trainable.tokens))
    base = loss(trainer, "default")
    trainer.config.train.input_perturbation = 0.0
    assert torch.equal(loss(trainer, "zero"), base)
    trainer.config.train.input_perturbation = 0.1
    perturbed = loss(trainer, "perturbed")
    assert not torch.equal(perturbed, base)
    assert torch.equal(seen["zero"], seen["default"])
    ratio = float((seen["perturbed"] - seen["default"]).std()) / 0.1  # ~ N(0, 1) draws * 0.1
    assert 0.6 < ratio < 1.4


# ----- train dpo --preset paper, then generate, through the CLI ------------------------------
@pytest.mark.parametrize("kind", ["sd15", pytest.param("sdxl", marks=pytest.mark.slow)])
def test_paper_preset_trains_and_generates_on_real_layouts(kind, tmp_path, toy, model_dirs):
    pytest.importorskip("peft")
    config = tmp_path / "dpo.yaml"
    config.write_text(
        json.dumps(
            {
                "model": {"pretrained": str(model_dirs[kind]), "bank_tokens": 2, "bank_dim": 8},
                "data": {"preferences": str(toy), "resolution": 32},
                "train": {
                    "output_dir": str(tmp_path / "run"),
                    "max_steps": 2,
                    "batch_size": 2,
                    "validation_every": None,
                },
            }
        )
    )
    result = runner.invoke(app, ["train", "dpo", "--config", str(config), "--preset", "paper"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    saved = json.loads((run / "config.json").read_text())
    assert saved["preset"] == "paper" and saved["model"]["lora_rank"] == 8
    assert saved["train"]["input_perturbation"] == 0.1
    assert (run / "lora.safetensors").is_file()
    header = _header(run / "adapter.safetensors")
    assert (header["projector"], header["preset"], header["lora_rank"]) == (
        "mlp-norm-attn",
        "paper",
        "8",
    )
    assert VisualPromptBank.load(run / "bank.safetensors").metadata["projector"] == "mlp-norm-attn"
    common = [
        "-e",
        "awe",
        "--model",
        str(model_dirs[kind]),
        "--bank",
        str(run / "bank.safetensors"),
    ]
    common += ["--adapter", str(run / "adapter.safetensors"), "--steps", "1", "--size", "32"]
    made = runner.invoke(
        app,
        ["generate", "a dog", *common, "--out", str(tmp_path / "a"), "--preset", "paper"]
        + ["--lora", str(run / "lora.safetensors")],
    )
    assert made.exit_code == 0, made.output
    sidecar = json.loads(next((tmp_path / "a").glob("*.json")).read_text())
    assert sidecar["projector"] == "mlp-norm-attn"
    # without --preset the files say which projector; without --lora a note says it is missing
    plain = runner.invoke(app, ["generate", "a dog", *common, "--out", str(tmp_path / "b")])
    assert plain.exit_code == 0, plain.output
    assert "rank-8 UNet LoRA" in plain.stderr
    assert json.loads(next((tmp_path / "b").glob("*.json")).read_text())["projector"] == (
        "mlp-norm-attn"
    )
    wrong = runner.invoke(
        app, ["generate", "a dog", *common, "--out", str(tmp_path / "c"), "--preset", "default"]
    )
    assert "built with the mlp-norm-attn projector" in _error_line(wrong)


def test_bank_init_paper_preset_through_the_cli(tmp_path, emoset, image_encoder_dirs, sd15_dir):
    out = tmp_path / "bank.safetensors"
    args = ["bank", "init", str(emoset), "--out", str(out), "--text-encoder", str(sd15_dir)]
    args += ["--image-encoder", str(image_encoder_dirs["clip"]), "--tokens", "2"]
    result = runner.invoke(
        app, [*args, "--preset", "paper", "--dino-encoder", str(image_encoder_dirs["dinov2"])]
    )
    assert result.exit_code == 0, result.output
    bank = VisualPromptBank.load(out)
    assert bank.dim == DINO_DIM + CLIP_DIM
    assert (bank.metadata["preset"], bank.metadata["bank_features"]) == ("paper", "dino+clip")
    made = runner.invoke(
        app,
        ["generate", "a dog", "-e", "awe", "--model", str(sd15_dir), "--bank", str(out)]
        + ["--out", str(tmp_path / "img"), "--steps", "1", "--size", "32", "--preset", "paper"],
    )
    assert made.exit_code == 0, made.output
    assert len(list((tmp_path / "img").glob("*.png"))) == 1


# ----- bad input: one red line, exit 2 ------------------------------------------------------
def test_bad_preset_input_is_one_line_with_exit_code_2(tmp_path, toy, image_encoder_dirs):
    bank_init = ["bank", "init", str(tmp_path), "--out", str(tmp_path / "b.safetensors")]
    bank_init += ["--text-encoder", "x", "--image-encoder", str(image_encoder_dirs["clip"])]
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({"data": {"preferences": str(toy)}}))
    for args in (
        [*bank_init, "--preset", "papr"],
        ["train", "dpo", "--config", str(config), "--preset", "papr"],
        ["generate", "a dog", "-e", "awe", "--model", "m", "--bank", "b", "--preset", "papr"],
    ):
        line = _error_line(runner.invoke(app, args))
        assert "unknown preset 'papr': use one of default, paper" in line, args
    line = _error_line(runner.invoke(app, [*bank_init, "--preset", "paper"]))
    assert "pass --dino-encoder" in line and "--image-encoder" in line
    line = _error_line(runner.invoke(app, [*bank_init, "--dino-encoder", "facebook/dinov2-base"]))
    assert "add --preset paper" in line


def test_resume_checks_the_preset_and_accepts_runs_from_before_presets(toy, tmp_path):
    from types import SimpleNamespace

    cfg = _config(toy, tmp_path / "run")
    saved = json.loads(cfg.model_dump_json())
    del saved["preset"], saved["model"]["projector"], saved["train"]["input_perturbation"]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))  # an earlier version's run
    DPOTrainer.check_resume_config(SimpleNamespace(output_dir=tmp_path / "run", config=cfg))
    paper = _config(toy, tmp_path / "run", preset="paper")
    with pytest.raises(ConfigError, match='preset: null -> "paper"'):
        DPOTrainer.check_resume_config(SimpleNamespace(output_dir=tmp_path / "run", config=paper))
