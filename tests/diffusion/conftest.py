import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from emotion_director.diffusion.bank import VisualPromptBank  # noqa: E402
from emotion_director.diffusion.tiny import build_tiny_pipeline  # noqa: E402

warnings.filterwarnings("ignore", category=FutureWarning)

GEN_KW = dict(num_inference_steps=2, height=32, width=32, output_type="np")


@pytest.fixture(params=["sd15", "sdxl"])
def kind(request):
    return request.param


@pytest.fixture
def base_pipeline(kind):
    pipe = build_tiny_pipeline(kind)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture
def bank():
    return VisualPromptBank.random(num_tokens=4, dim=16, text_dim=32, seed=1)


def run(pipe, *args, seed=0, **kwargs):
    return pipe(*args, generator=torch.Generator().manual_seed(seed), **GEN_KW, **kwargs).images
