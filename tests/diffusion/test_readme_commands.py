"""The README's MC-Diffusion and Training commands, run verbatim (in order, in one folder) on tiny
checkpoints in the real SD 1.5 / SDXL layouts. A README edit that breaks a command fails here."""

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emotion_director.cli import app

ROOT = Path(__file__).parents[2]
SECTIONS = (
    "## MC-Diffusion: images guided by a visual prompt",
    "## Training: Diffusion-DPO with a negative visual prompt",
)


def readme_blocks():
    """The ``bash`` blocks of the two sections, each a list of commands (continuations joined)."""
    text = (ROOT / "README.md").read_text()
    blocks = []
    for heading in SECTIONS:
        section = text[text.index(heading) :]
        section = section[: section.index("\n## ", 3)]
        for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
            commands, current = [], ""
            for line in block.splitlines():
                if line.lstrip().startswith("#") or not line.strip():
                    continue
                current += line.split("  #")[0].rstrip().removesuffix("\\") + " "
                if not line.rstrip().endswith("\\"):
                    commands.append(current.strip())
                    current = ""
            blocks.append(commands)
    return blocks


def test_readme_has_the_commands_this_test_runs():
    commands = [c for block in readme_blocks() for c in block]
    assert any("bank tiny-pipeline models/sdxl --kind sdxl" in c for c in commands)
    assert any(c.startswith("emotion-director bank init data/emoset") for c in commands)
    assert any("dpo_sdxl.yaml" in c for c in commands)
    assert sum(c.startswith("emotion-director generate") for c in commands) >= 3


@pytest.mark.slow
def test_every_readme_diffusion_command_runs_verbatim(tmp_path, monkeypatch):
    shutil.copytree(
        ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("toy", "runs")
    )
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    ran = []
    for block in readme_blocks():
        if any(c.startswith("accelerate launch") for c in block):
            continue  # multi-GPU forms: tests/diffusion/test_data_parallel.py runs them on 2 CPUs
        for command in block:
            if command.startswith("emotion-director "):
                result = runner.invoke(app, shlex.split(command)[1:])
                assert result.exit_code == 0, (command, result.output)
                ran.append((command, result.stdout))
            else:  # shell helpers such as printf
                subprocess.run(command, shell=True, check=True, cwd=tmp_path)
    assert Path("banks/emoset.safetensors").is_file()
    assert len(list(Path("outputs").glob("*.png"))) >= 4
    for run in ("runs/dpo-tiny", "runs/dpo-sd15", "runs/dpo-sdxl"):
        assert Path(run, "bank.safetensors").is_file(), run
    assert Path("runs/dpo-sdxl/lora.safetensors").is_file()
    printed = dict(ran)
    assert "negative_sampling" in printed["emotion-director train dpo --print-config"]
    # the Python example, as written, against the folders the commands above produced
    text = (ROOT / "README.md").read_text()
    section = text[text.index(SECTIONS[0]) : text.index(SECTIONS[1])]
    (example,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    scope: dict = {}
    exec(compile(example, "README.md", "exec"), scope)  # noqa: S102 - the README's own code
    out = scope["out"]
    assert len(out.images) == 2 and len(out.visual_prompt_retrieval) == 2
    assert scope["pipe"].visual_prompt_adapter is None  # the example ends by unloading


@pytest.mark.slow
def test_diffusion_commands_print_no_library_notes_or_progress_bars(tmp_path):
    """A clean run says what it made and nothing else: no transformers "requires torchvision"
    notes, no "Loading weights" bars (EMOTION_DIRECTOR_LOG_LEVEL=INFO brings them back)."""
    import os
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EMOTION_DIRECTOR_", "HF_HUB_DISABLE"))
    }

    def cli(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "emotion_director.cli", *args],
            cwd=tmp_path,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
        )

    steps = [
        ("bank", "tiny-pipeline", "models/sd15"),
        ("bank", "tiny-image-encoder", "models/clip", "--kind", "clip"),
        ("train", "toy-data", "data/emoset", "--emoset", "--per-emotion", "2"),
        (
            "bank",
            "init",
            "data/emoset",
            "--out",
            "banks/b.safetensors",
            "--text-encoder",
            "models/sd15",
            "--image-encoder",
            "models/clip",
            "--tokens",
            "2",
        ),
        (
            "generate",
            "a dog",
            "-e",
            "awe",
            "--model",
            "models/sd15",
            "--bank",
            "banks/b.safetensors",
            "--out",
            "outputs",
            "--steps",
            "2",
            "--size",
            "64",
        ),
    ]
    for args in steps:
        done = cli(*args)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        assert done.stderr == "", (args, done.stderr[-2000:])
    loud = cli(
        "bank",
        "tiny-image-encoder",
        "models/clip2",
        "--kind",
        "clip",
        EMOTION_DIRECTOR_LOG_LEVEL="INFO",
    )
    assert loud.returncode == 0 and "requires torchvision" in loud.stderr
