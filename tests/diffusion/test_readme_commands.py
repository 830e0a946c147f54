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
SECTIONS = ("## MC-Diffusion: images guided by a visual prompt",
            "## Training: Diffusion-DPO with a negative visual prompt")


def readme_blocks():
    """The ``bash`` blocks of the two sections, each a list of commands (continuations joined)."""
    text = (ROOT / "README.md").read_text()
    blocks = []
    for heading in SECTIONS:
        section = text[text.index(heading):]
        section = section[:section.index("\n## ", 3)]
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
    shutil.copytree(ROOT / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns("toy", "runs"))
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
    section = text[text.index(SECTIONS[0]):text.index(SECTIONS[1])]
    (example,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    scope: dict = {}
    exec(compile(example, "README.md", "exec"), scope)  # noqa: S102 - the README's own code
    out = scope["out"]
    assert len(out.images) == 2 and len(out.visual_prompt_retrieval) == 2
    assert scope["pipe"].visual_prompt_adapter is None  # the example ends by unloading
