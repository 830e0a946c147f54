"""Hostile inputs to MC-Diffusion: bad bank files, sizes, adapters, checkpoints, training images.

Each case must end with one clear line and exit code 2 (or fall back and say so), never a
traceback, a hang or a silently wrong image.
"""

import json
import os
import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from safetensors.torch import save_file  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from emotion_director.cli import app  # noqa: E402
from emotion_director.diffusion.bank import BankError, VisualPromptBank  # noqa: E402
from emotion_director.diffusion.training import DatasetError, DPOConfig, DPOTrainer  # noqa: E402
from emotion_director.diffusion.training.data import make_toy_preferences  # noqa: E402

runner = CliRunner()
torch.set_num_threads(1)  # tiny models: one thread is fastest, extra threads only thrash


@pytest.fixture(scope="module")
def sd15(tmp_path_factory):
    from emotion_director.diffusion.tiny import write_tiny_pipeline

    return write_tiny_pipeline(tmp_path_factory.mktemp("m") / "sd15")


def _bank_file(path, tokens=None, text_keys=None, **header):
    bank = VisualPromptBank.random(4, 16, 32)
    meta = {
        "format": "emotion-director-visual-prompt-bank",
        "version": "1",
        "emotions": json.dumps(bank.emotions),
        "metadata": "{}",
    }
    meta.update(header)
    save_file(
        {
            "tokens": bank.tokens if tokens is None else tokens,
            "text_keys": bank.text_keys if text_keys is None else text_keys,
        },
        str(path),
        metadata=meta,
    )
    return path


def _generate(sd15, bank, tmp_path, *extra):
    return runner.invoke(
        app,
        [
            "generate",
            "a dog",
            "-e",
            "awe",
            "--model",
            str(sd15),
            "--bank",
            str(bank),
            "--out",
            str(tmp_path / "out"),
            "--steps",
            "1",
            "--size",
            "32",
            *extra,
        ],
    )


def _clean_error(result, message):
    assert result.exit_code == 2, result.output
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.output and "unexpected" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3  # one line (rich may wrap it)


# ----- bank files (issue 11, items 10 and 14) ---------------------------------------------
@pytest.mark.parametrize("poison", [float("nan"), float("inf")])
def test_bank_with_nan_or_inf_tokens_is_refused_before_any_image(tmp_path, sd15, poison):
    tokens = torch.full((8, 4, 16), poison)
    bank = _bank_file(tmp_path / "nan.safetensors", tokens=tokens)
    result = _generate(sd15, bank, tmp_path)
    _clean_error(result, "NaN/inf")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.png"))


def test_bank_with_nan_text_keys_is_refused(tmp_path):
    keys = torch.randn(8, 4, 32)
    keys[2, 1, 0] = float("nan")
    with pytest.raises(BankError, match="text_keys hold 1 NaN"):
        VisualPromptBank.load(_bank_file(tmp_path / "k.safetensors", text_keys=keys))


def test_bank_with_duplicate_emotions_is_refused(tmp_path, sd15):
    names = ["amusement"] * 8
    bank = _bank_file(tmp_path / "dup.safetensors", emotions=json.dumps(names))
    _clean_error(_generate(sd15, bank, tmp_path), "amusement more than once")


def test_bank_with_unknown_emotion_names_is_refused(tmp_path):
    names = ["amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear", "gloom?"]
    with pytest.raises(BankError, match="unknown emotion 'gloom\\?'"):
        VisualPromptBank.load(_bank_file(tmp_path / "u.safetensors", emotions=json.dumps(names)))


@pytest.mark.parametrize("field", ["metadata", "emotions"])
def test_bank_metadata_that_is_not_json_is_one_line(tmp_path, sd15, field):
    bank = _bank_file(tmp_path / "m.safetensors", **{field: "{not json"})
    _clean_error(_generate(sd15, bank, tmp_path), f"metadata field '{field}' is not valid JSON")


def test_bank_metadata_of_the_wrong_json_type_is_one_line(tmp_path):
    with pytest.raises(BankError, match="'emotions' must be a JSON list"):
        VisualPromptBank.load(_bank_file(tmp_path / "t.safetensors", emotions='{"a": 1}'))


def test_bank_size_metadata_that_is_not_a_number_is_one_line(tmp_path):
    with pytest.raises(BankError, match="num_tokens='four' is not a whole number"):
        VisualPromptBank.load(_bank_file(tmp_path / "n.safetensors", num_tokens="four"))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_bank_with_integer_tokens_is_refused(tmp_path, sd15, dtype):
    tokens = torch.ones(8, 4, 16).to(dtype)
    bank = _bank_file(tmp_path / "int.safetensors", tokens=tokens)
    _clean_error(_generate(sd15, bank, tmp_path), "not floating point")


# ----- generate sizes, adapters, LoRA (item 14) --------------------------------------------
@pytest.mark.parametrize("size", ["33", "0", "-8", "12"])
def test_generate_refuses_sizes_that_are_not_positive_multiples_of_8(tmp_path, sd15, size):
    bank = VisualPromptBank.random(4, 16, 32).save(tmp_path / "b.safetensors")
    result = runner.invoke(
        app,
        [
            "generate",
            "a dog",
            "-e",
            "awe",
            "--model",
            str(sd15),
            "--bank",
            str(bank),
            "--size",
            size,
            "--out",
            str(tmp_path / "o"),
        ],
    )
    _clean_error(result, "positive multiple of 8")


def test_generate_with_a_missing_adapter_says_so(tmp_path, sd15):
    bank = VisualPromptBank.random(4, 16, 32).save(tmp_path / "b.safetensors")
    result = _generate(sd15, bank, tmp_path, "--adapter", str(tmp_path / "missing.safetensors"))
    _clean_error(result, "--adapter")
    assert "not found" in result.stderr


@pytest.mark.parametrize("name", ["adapter.pt", "adapter.bin"])
def test_generate_refuses_an_adapter_that_is_not_safetensors_by_name(tmp_path, sd15, name):
    bank = VisualPromptBank.random(4, 16, 32).save(tmp_path / "b.safetensors")
    (tmp_path / name).write_bytes(b"\x80\x04K\x01.")  # a pickle
    _clean_error(
        _generate(sd15, bank, tmp_path, "--adapter", str(tmp_path / name)),
        "must be a .safetensors file",
    )


def test_generate_refuses_a_pickle_disguised_as_safetensors(tmp_path, sd15):
    bank = VisualPromptBank.random(4, 16, 32).save(tmp_path / "b.safetensors")
    fake = tmp_path / "adapter.safetensors"
    fake.write_bytes(b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00K\x01.")
    result = _generate(sd15, bank, tmp_path, "--adapter", str(fake))
    _clean_error(result, "must be a .safetensors file")


def test_generate_refuses_an_adapter_for_another_model(tmp_path, sd15):
    bank = VisualPromptBank.random(4, 16, 32).save(tmp_path / "b.safetensors")
    other = tmp_path / "other.safetensors"
    save_file(
        {"projector.x": torch.zeros(2)},
        str(other),
        metadata={"format": "emotion-director-visual-prompt-adapter"},
    )
    _clean_error(_generate(sd15, bank, tmp_path, "--adapter", str(other)), "do not fit")


def test_generate_with_a_corrupt_lora_is_one_line(tmp_path, sd15):
    bank = VisualPromptBank.random(4, 16, 32).save(tmp_path / "b.safetensors")
    lora = tmp_path / "lora.safetensors"
    lora.write_bytes(b"\x00" * 40)
    _clean_error(
        _generate(sd15, bank, tmp_path, "--lora", str(lora)), "must be a .safetensors file"
    )


# ----- training data (items 12 and 14) -----------------------------------------------------
@pytest.fixture
def toy(tmp_path):
    return make_toy_preferences(tmp_path / "data", per_emotion=1)


def _config(pref, out, **train):
    return DPOConfig.parse(
        {
            "model": {
                "pretrained": "tiny:sd15",
                "bank": "random",
                "bank_tokens": 4,
                "bank_dim": 16,
            },
            "data": {"preferences": str(pref), "resolution": 32},
            "train": {
                "output_dir": str(out),
                "max_steps": 1,
                "batch_size": 2,
                "validation_every": None,
                **train,
            },
        }
    )


def _one_record(pref, **fields):
    record = {
        "prompt": "p",
        "emotion": "awe",
        "image_w": "images/awe-0-w.png",
        "image_l": "images/awe-0-l.png",
        **fields,
    }
    pref.write_text(json.dumps(record) + "\n")
    return pref


@pytest.mark.parametrize(
    "escape", ["../../../../../../etc/passwd", "/etc/passwd", "images/../../outside.png"]
)
def test_training_image_paths_must_stay_under_the_data_folder(tmp_path, toy, escape):
    (tmp_path / "outside.png").write_bytes((toy.parent / "images" / "awe-0-w.png").read_bytes())
    pref = _one_record(toy, image_w=escape)
    with pytest.raises(DatasetError, match="leaves the data folder"):
        DPOTrainer(_config(pref, tmp_path / "run"))


def test_a_symlink_out_of_the_data_folder_is_refused(tmp_path, toy):
    outside = tmp_path / "secret.png"
    outside.write_bytes((toy.parent / "images" / "awe-0-w.png").read_bytes())
    os.symlink(outside, toy.parent / "images" / "link.png")
    with pytest.raises(DatasetError, match="leaves the data folder"):
        DPOTrainer(_config(_one_record(toy, image_w="images/link.png"), tmp_path / "run"))


def test_a_non_image_training_file_is_one_line(tmp_path, toy):
    (toy.parent / "images" / "notes.png").write_text("this is text, not a PNG")
    pref = _one_record(toy, image_l="images/notes.png")
    with pytest.raises(
        DatasetError, match="preferences.jsonl:1: field 'image_l': .*not a readable image"
    ):
        DPOTrainer(_config(pref, tmp_path / "run"))


def test_an_oversize_training_image_is_refused_before_decoding(tmp_path, toy):
    from PIL import Image

    Image.new("1", (10_000, 7_000)).save(toy.parent / "images" / "huge.png")  # 70 MP, tiny file
    pref = _one_record(toy, image_w="images/huge.png")
    with pytest.raises(DatasetError, match="10000x7000 pixels"):
        DPOTrainer(_config(pref, tmp_path / "run"))


def test_train_cli_reports_bad_training_images_in_one_line(tmp_path, toy):
    pref = _one_record(toy, image_w="../../../etc/passwd")
    config_file = tmp_path / "cfg.yaml"
    import yaml

    config_file.write_text(yaml.safe_dump(_config(pref, tmp_path / "run").model_dump(mode="json")))
    _clean_error(
        runner.invoke(app, ["train", "dpo", "--config", str(config_file)]), "leaves the data folder"
    )


# ----- checkpoints (item 14) ----------------------------------------------------------------
def test_a_corrupt_latest_checkpoint_falls_back_to_the_previous_one_and_says_so(tmp_path):
    toy = make_toy_preferences(tmp_path / "data", per_emotion=1)
    import yaml

    config_file = tmp_path / "cfg.yaml"
    cfg = _config(
        toy, tmp_path / "run", max_steps=4, checkpoint_every=2, keep_checkpoints=3, log_every=1
    )
    config_file.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    first = runner.invoke(app, ["train", "dpo", "--config", str(config_file)])
    assert first.exit_code == 0, first.output
    latest = tmp_path / "run" / "checkpoint-00000004"
    for weights in latest.glob("*.safetensors"):
        weights.write_bytes(b"\x00" * 16)  # torn write
    for weights in latest.glob("*.bin"):
        weights.write_bytes(b"\x00" * 16)
    resumed = runner.invoke(
        app, ["train", "dpo", "--config", str(config_file), "--resume", "latest"]
    )
    assert resumed.exit_code == 0, resumed.output
    assert "checkpoint-00000004 is unreadable" in resumed.stderr
    assert "resumed from checkpoint-00000002 (step 2)" in resumed.stderr
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4"]


def test_every_checkpoint_corrupt_is_one_line(tmp_path):
    toy = make_toy_preferences(tmp_path / "data", per_emotion=1)
    trainer = DPOTrainer(_config(toy, tmp_path / "run", max_steps=2, checkpoint_every=1))
    trainer.train()
    for folder in (tmp_path / "run").glob("checkpoint-*"):
        for weights in folder.iterdir():
            if weights.suffix in {".safetensors", ".bin"}:
                weights.write_bytes(b"garbage")
    shutil.rmtree(
        tmp_path / "run" / "checkpoint-00000002" / "random_states_0.pkl", ignore_errors=True
    )
    again = DPOTrainer(_config(toy, tmp_path / "run", max_steps=3, checkpoint_every=1))
    with pytest.raises(Exception, match="no readable checkpoint"):
        again.train(resume="latest")
