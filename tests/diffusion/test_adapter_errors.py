"""Adapter and LoRA weight files fail with AdapterError (a data-file error), not a bank error."""

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from emotion_director.cli import app
from emotion_director.diffusion.attention import read_safetensors
from emotion_director.diffusion.bank import VisualPromptBank
from emotion_director.diffusion.pipeline import MCDiffusionPipeline
from emotion_director.errors import AdapterError, BankError, DataFileError


def test_missing_or_pickled_adapter_weights_raise_adapter_error_naming_the_file(tmp_path):
    with pytest.raises(AdapterError, match="adapter weights .*missing.safetensors not found"):
        read_safetensors(tmp_path / "missing.safetensors", what="adapter weights")
    pickle = tmp_path / "adapter.safetensors"
    torch.save({"w": torch.zeros(2)}, pickle)
    with pytest.raises(AdapterError, match="pickles are never loaded") as info:
        read_safetensors(pickle, what="adapter weights")
    assert isinstance(info.value, DataFileError) and not isinstance(info.value, BankError)


def test_adapter_weights_that_do_not_fit_the_unet_raise_adapter_error(tmp_path, sd15_dir):
    bank = VisualPromptBank.random(4, 16, 32).save(tmp_path / "bank.safetensors")
    wrong = tmp_path / "adapter.safetensors"
    save_file({"not.a.layer": torch.zeros(3)}, str(wrong))
    with pytest.raises(AdapterError, match="adapter weights do not fit"):
        MCDiffusionPipeline.from_pretrained(sd15_dir, bank=bank, adapter_weights=wrong)


def test_a_lora_file_that_does_not_fit_the_model_is_an_adapter_error(tmp_path, sd15_dir):
    bank = VisualPromptBank.random(4, 16, 32).save(tmp_path / "bank.safetensors")
    with pytest.raises(AdapterError, match="LoRA weights .* not found"):
        MCDiffusionPipeline.from_pretrained(
            sd15_dir, lora_weights=str(tmp_path / "lora.safetensors")
        )
    with pytest.raises(AdapterError, match="LoRA does not fit this model"):
        MCDiffusionPipeline.from_pretrained(sd15_dir, lora_weights=str(bank))


def test_cli_reports_a_bad_lora_file_in_one_line_with_exit_code_2(tmp_path, sd15_dir):
    bank = VisualPromptBank.random(4, 16, 32).save(tmp_path / "bank.safetensors")
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "a dog",
            "-e",
            "awe",
            "--model",
            str(sd15_dir),
            "--bank",
            str(bank),
            "--lora",
            str(bank),
            "--out",
            str(tmp_path / "img"),
            "--steps",
            "1",
            "--size",
            "32",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "LoRA does not fit this model" in result.output and "Traceback" not in result.output


def test_checked_generator_refuses_bad_settings_before_any_weights_load(tmp_path):
    from emotion_director.diffusion.generator import checked_generator
    from emotion_director.errors import InvalidRequestError

    bank = VisualPromptBank.random(4, 16, 32).save(tmp_path / "bank.safetensors")
    refused = [
        ({"size": 30}, "multiple of 8"),
        ({"retrieval_temperature": 0.0}, "must be > 0"),
        ({"model": None}, "no diffusion model"),
        ({"bank": None}, "no visual prompt bank"),
        ({"device": "tpu"}, "unknown device"),
        ({"lora": tmp_path / "lora.safetensors"}, "file not found"),
        ({"adapter": bank.with_suffix(".bin")}, "file not found"),
    ]
    for settings, message in refused:
        with pytest.raises(InvalidRequestError, match=message):
            checked_generator(**{"model": "no/such-model", "bank": bank, **settings})
    generator = checked_generator(
        model="no/such-model", bank=bank, out_dir=tmp_path / "out", size=64
    )
    assert generator.pipeline is None  # nothing loaded yet
    assert (generator.height, generator.width, generator.bank) == (64, 64, str(bank))
    assert (tmp_path / "out").is_dir()
