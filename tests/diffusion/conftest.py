import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from emotion_director.diffusion.bank import VisualPromptBank  # noqa: E402
from emotion_director.diffusion.tiny import build_tiny_pipeline  # noqa: E402

warnings.filterwarnings("ignore", category=FutureWarning)
# tiny models: one thread is fastest, and on a shared machine extra threads only thrash
torch.set_num_threads(1)

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
def restore_kernel():
    """Puts the visual branch's kernel back to its default after a test that sets it."""
    from emotion_director.diffusion.attention import VisualPromptAttnProcessor

    yield
    VisualPromptAttnProcessor.kernel = "auto"


@pytest.fixture
def bank():
    return VisualPromptBank.random(num_tokens=4, dim=16, text_dim=32, seed=1)


def run(pipe, *args, seed=0, **kwargs):
    return pipe(*args, generator=torch.Generator().manual_seed(seed), **GEN_KW, **kwargs).images


def unet_inputs(unet, image_embeds):
    """Seeded inputs of one direct UNet call on one row, in the UNet's dtype, with
    ``image_embeds`` (a packed visual prompt, or ``[packed, layer_scales]``):
    ``(sample, text states, added_cond_kwargs)``."""
    cfg, dtype = unet.config, unet.dtype
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, cfg.sample_size, cfg.sample_size, generator=g).to(dtype)
    text = torch.randn(1, 77, cfg.cross_attention_dim, generator=g).to(dtype)
    embeds = image_embeds if isinstance(image_embeds, list) else [image_embeds]
    added = {"image_embeds": embeds}
    if cfg.addition_embed_type == "text_time":
        extra = {"text_embeds": torch.randn(1, 32, generator=g), "time_ids": torch.ones(1, 6)}
        added |= {k: v.to(dtype) for k, v in extra.items()}
    return x, text, added


def unet_call(unet, image_embeds):
    """One direct UNet call (no autograd) on :func:`unet_inputs`; the sample it predicts."""
    x, text, added = unet_inputs(unet, image_embeds)
    with torch.no_grad():
        return unet(x, 10, encoder_hidden_states=text, added_cond_kwargs=added).sample


# ----- layout-faithful checkpoints (the real folder layouts and classes) ------------------
@pytest.fixture(scope="session")
def sd15_dir(tmp_path_factory):
    from emotion_director.diffusion.tiny import write_tiny_pipeline

    return write_tiny_pipeline(tmp_path_factory.mktemp("models") / "sd15", "sd15")


@pytest.fixture(scope="session")
def sdxl_dir(tmp_path_factory):
    from emotion_director.diffusion.tiny import write_tiny_pipeline

    return write_tiny_pipeline(tmp_path_factory.mktemp("models") / "sdxl", "sdxl")


@pytest.fixture(scope="session")
def model_dirs(sd15_dir, sdxl_dir):
    return {"sd15": sd15_dir, "sdxl": sdxl_dir}


@pytest.fixture(scope="session")
def image_encoder_dirs(tmp_path_factory):
    from emotion_director.diffusion.tiny import write_tiny_image_encoder

    root = tmp_path_factory.mktemp("image-encoders")
    return {kind: write_tiny_image_encoder(root / kind, kind) for kind in ("clip", "dinov2")}


def write_emoset(root, per_emotion=4, size=32, seed=0):
    """A small dataset in EmoSet's layout: image/<emotion>/*.jpg + annotation/<emotion>/*.json."""
    from emotion_director.diffusion.training.data import make_toy_emoset

    return make_toy_emoset(root, per_emotion=per_emotion, size=size, seed=seed)


@pytest.fixture
def fresh_accelerate_state():
    """accelerate keeps its state per process: reset it around a test that changes it."""
    from accelerate.state import AcceleratorState, PartialState

    AcceleratorState._reset_state(True)
    PartialState._reset_state()
    yield
    AcceleratorState._reset_state(True)
    PartialState._reset_state()
