"""``bank init`` and ``generate --prompts`` data-parallel under ``accelerate launch``
(2 CPU processes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from emotion_director.diffusion.bank import VisualPromptBank

from .conftest import write_emoset

ROOT = Path(__file__).parents[2]


def launch(args, cwd, timeout=240):
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "OMP_NUM_THREADS": "1",
    }
    # `accelerate launch` (its module, so the launcher of this interpreter runs); without CUDA
    # its multi-process launcher (torchrun) gives CPU processes on gloo
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        "0",
        "-m",
        "emotion_director.cli",
        *args,
    ]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_two_processes_build_the_same_bank_as_one(tmp_path, sd15_dir, image_encoder_dirs):
    data = write_emoset(tmp_path / "emoset", per_emotion=3)
    common = [
        "--text-encoder",
        str(sd15_dir),
        "--image-encoder",
        str(image_encoder_dirs["dinov2"]),
        "--tokens",
        "2",
        "--batch-size",
        "2",
    ]
    result = launch(
        ["bank", "init", str(data), "--out", "two.safetensors", "--cache", "cache", *common],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines() == ["two.safetensors"]  # the main process only
    shards = list((tmp_path / "cache").glob("*/batch-*.safetensors"))
    assert len(shards) >= 2  # both processes wrote features
    from typer.testing import CliRunner

    from emotion_director.cli import app

    single = CliRunner().invoke(
        app, ["bank", "init", str(data), "--out", str(tmp_path / "one.safetensors"), *common]
    )
    assert single.exit_code == 0, single.output
    two = VisualPromptBank.load(tmp_path / "two.safetensors")
    one = VisualPromptBank.load(tmp_path / "one.safetensors")
    assert torch.allclose(two.tokens, one.tokens, atol=1e-5)
    assert two.metadata["processes"] == 2


@pytest.mark.slow
def test_two_processes_split_a_prompt_file(tmp_path, sd15_dir):
    VisualPromptBank.random(4, 16, 32).save(tmp_path / "bank.safetensors")
    lines = [
        json.dumps({"prompt": f"a dog number {i}", "emotion": "awe", "seed": i}) for i in range(3)
    ] + ["a storm over the sea"]
    (tmp_path / "prompts.jsonl").write_text("\n".join(lines) + "\n")
    result = launch(
        [
            "generate",
            "--prompts",
            "prompts.jsonl",
            "-e",
            "fear",
            "--model",
            str(sd15_dir),
            "--bank",
            "bank.safetensors",
            "--out",
            "out",
            "--steps",
            "1",
            "--size",
            "32",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    pngs = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert len(pngs) == 4 and len(set(pngs)) == 4
    sidecars = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    assert sorted(s["prompt"] for s in sidecars) == sorted(
        [f"a dog number {i}" for i in range(3)] + ["a storm over the sea"]
    )
    assert {s["emotion"] for s in sidecars} == {"awe", "fear"}
    printed = [line for line in result.stdout.splitlines() if line.endswith(".png")]
    assert len(printed) == 4  # each process prints its own share
    # one process (a separate one, with its own global RNG) draws the very same images
    single = subprocess.run(
        [
            sys.executable,
            "-m",
            "emotion_director.cli",
            "generate",
            "--prompts",
            "prompts.jsonl",
            "-e",
            "fear",
            "--model",
            str(sd15_dir),
            "--bank",
            "bank.safetensors",
            "--out",
            "one",
            "--steps",
            "1",
            "--size",
            "32",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "OMP_NUM_THREADS": "1",
        },
    )
    assert single.returncode == 0, single.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "one").glob("*.png")) == pngs
    for name in pngs:
        two = np.asarray(Image.open(tmp_path / "out" / name))
        one = np.asarray(Image.open(tmp_path / "one" / name))
        assert np.array_equal(one, two), name
