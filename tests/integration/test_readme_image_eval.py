"""The README's CPU commands for the image evals, run as written (only /tmp/ed is moved into
the test's own folder); ``mc_agent`` rewrites with the shipped SmolLM2 model."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers")
pytest.importorskip("sentence_transformers")

README = Path(__file__).resolve().parents[2] / "README.md"


def cpu_block() -> str:
    text = README.read_text(encoding="utf-8")
    after = text.split("On CPU, with tiny random checkpoints", 1)[1]
    return after.split("```bash\n", 1)[1].split("```", 1)[0]


@pytest.mark.integration
def test_readme_cpu_image_eval_commands_run_as_written(tmp_path):
    block = cpu_block()
    assert "emotion-director eval images /tmp/ed/run" in block
    assert "emotion-director bank tiny-pipeline /tmp/ed/tiny-sd" in block
    script = block.replace("/tmp/ed", str(tmp_path / "ed"))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "ed" / "run"
    report = (run / "report.md").read_text()
    assert "## Images" in report and "| mc_agent |" in report.split("## Images")[1]
    assert len(list((run / "grids").glob("*.png"))) == 2
    assert "validation accuracy" in done.stderr
    assert "12 generated" in done.stderr  # 2 cases x 3 systems x 2 images
