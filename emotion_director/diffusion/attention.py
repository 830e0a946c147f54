"""Decoupled cross-attention for the visual prompt (IP-Adapter style) and the mixin that
installs it.

The visual prompt travels *through the UNet call*, exactly as diffusers passes IP-Adapter image
embeddings: the caller gives ``added_cond_kwargs={"image_embeds": [packed]}`` (the pipelines do
this from ``ip_adapter_image_embeds=[packed]``), the UNet's ``encoder_hid_proj`` (here a
:class:`VisualPromptProjection`) projects it, and every cross-attention layer receives
``encoder_hidden_states = (text_states, VisualTokens)``. Nothing is stored between calls, so two
requests in two threads never see each other's tokens and gradient checkpointing recomputes the
same path.

Every cross-attention layer gets a :class:`VisualPromptAttnProcessor`: the text branch is the
layer's own attention, and a second branch attends from the same queries to the visual tokens
with its own ``to_k``/``to_v``::

    out = Attn(Q, K_text, V_text) + scale * row_scale * Attn(Q, K_vis, V_vis; bias = log w)

``w`` are the retrieval weights (:mod:`emotion_director.diffusion.retrieval`): they act on the
visual attention logits, so a token with weight ~0 gets ~0 attention (it is also masked out of
the projector's self-attention) and has no influence on the image. With ``scale == 0`` the
processor calls the layer's original processor, so the output is bit-identical to the base
pipeline's.

The packed tensor is ``[rows, slots, L, d + 2]``: the bank tokens (``d`` channels), the log
retrieval weight of each token, and the row's visual-prompt scale (0 turns the branch off for that
row, as for the unconditional rows of classifier-free guidance without a negative visual prompt).
UNet row ``r`` uses slot ``r % slots``. A direct UNet call passes one slot per row
(``[rows, 1, L, d + 2]``); the pipelines, which repeat IP-Adapter embeddings over the whole batch,
get ``[2, B, L, d + 2]`` (negative and positive, one slot per image), so every image still gets its
own visual prompt.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import nn

from emotion_director.errors import AdapterError, BankError, UserInputError

if TYPE_CHECKING:
    from diffusers.models.attention_processor import Attention

    from emotion_director.diffusion.bank import VisualPromptBank
    from emotion_director.diffusion.projector import VisualPromptProjector

#: log-weight of a token with retrieval weight 0: it gets exactly zero attention
DROPPED = float("-inf")

#: head channels added to the visual branch's queries and keys by the ``"key"`` kernel
BIAS_CHANNELS = 8
#: how the visual branch applies the log retrieval weights (``VisualPromptAttnProcessor.kernel``)
KERNELS = ("auto", "key", "mask")


class VisualTokens(NamedTuple):
    """Projected visual prompt as the attention processors receive it."""

    hidden_states: torch.Tensor  # [B, L, D]
    log_weights: torch.Tensor  # [B, L]
    row_scale: torch.Tensor  # [B]
    active: bool  # False when every row's scale is 0: processors take the base path
    #: each layer's scale, captured once per pipeline call (``None``: the layers' current ones)
    layer_scales: tuple[float, ...] | None = None
    #: the same as a ``[layers]`` tensor: what a compiled UNet reads (a new scale is new data,
    #: not a new graph)
    layer_scale_tensor: torch.Tensor | None = None


def pack_visual_prompt(
    tokens: torch.Tensor,
    weights: torch.Tensor | None = None,
    row_scale: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    """Pack bank tokens ``[B, L, d]``, retrieval weights ``[B, L]`` (``None`` = uniform) and a
    per-row scale into the ``[B, 1, L, d + 2]`` tensor passed as ``image_embeds`` /
    ``ip_adapter_image_embeds``.

    A token of weight 0 gets log-weight ``-inf``: exactly zero attention, whatever its values. A
    row whose weights are all 0 has no visual prompt: its scale becomes 0 (the branch is off for
    it) and its log-weights uniform, so no softmax ever sees a row of ``-inf`` (NaN).
    """
    b, n, _ = tokens.shape
    uniform = -float(torch.log(torch.tensor(float(n))))
    rows = torch.as_tensor(row_scale, dtype=tokens.dtype, device=tokens.device).expand(b)
    if weights is None:
        log_w = torch.full((b, n), uniform, dtype=tokens.dtype, device=tokens.device)
    else:
        weights = weights.to(tokens)
        kept = weights > 0
        # the clamp keeps the gradient finite where the weight is 0 (where() routes it to 0)
        log_w = torch.where(
            kept,
            weights.clamp(min=torch.finfo(weights.dtype).tiny).log(),
            torch.full_like(weights, DROPPED),
        )
        empty = ~kept.any(dim=-1)
        log_w = torch.where(empty[:, None], torch.full_like(log_w, uniform), log_w)
        rows = torch.where(empty, torch.zeros_like(rows), rows)
    extra = torch.stack([log_w, rows[:, None].expand(b, n)], dim=-1)
    return torch.cat([tokens, extra], dim=-1)[:, None]


def unpack_visual_prompt(packed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inverse of :func:`pack_visual_prompt`, row ``r`` taking slot ``r % slots``:
    ``(tokens [R, L, d], log_weights [R, L], row_scale [R])``."""
    if packed.ndim == 4:
        rows = torch.arange(packed.shape[0], device=packed.device)
        packed = packed[rows, rows % packed.shape[1]]
    return packed[..., :-2], packed[..., -2], packed[:, 0, -1]


def layer_scales_tensor(scales: tuple[float, ...], rows: int) -> torch.Tensor:
    """Captured layer scales as the second ``ip_adapter_image_embeds`` entry:
    ``[rows, 1, 1, layers]`` float32 (diffusers splits and repeats it for guidance as it does the
    packed prompt)."""
    return torch.tensor(scales, dtype=torch.float32).view(1, 1, 1, -1).repeat(rows, 1, 1, 1)


class _PerTensorCache:
    """Results derived from one tensor object, reused while that very object is alive.

    A pipeline passes the same packed visual prompt to the UNet at every denoising step, so the
    projection and each layer's visual K/V need computing once per generation. Entries are keyed
    by the tensor's identity (checked through a weak reference and its version counter, so a
    freed or modified tensor never hits) and used only without autograd: training recomputes.
    Each concurrent generation has its own tensor, hence its own entries.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        # id -> (a weak reference to the tensor, its version, the value)
        self.entries: OrderedDict[int, tuple[weakref.ref[torch.Tensor], int | None, Any]] = (
            OrderedDict()
        )

    def get(self, tensor: torch.Tensor) -> Any:
        if torch.is_grad_enabled():
            return None
        entry = self.entries.get(id(tensor))
        if entry is not None and entry[0]() is tensor and entry[1] == _version(tensor):
            return entry[2]
        return None

    def put(self, tensor: torch.Tensor, value: Any) -> Any:
        if not torch.is_grad_enabled():
            self.entries[id(tensor)] = (weakref.ref(tensor), _version(tensor), value)
            while len(self.entries) > self.size:
                try:
                    self.entries.popitem(last=False)
                except KeyError:  # emptied by another thread meanwhile
                    break
        return value


def _version(tensor: torch.Tensor) -> int | None:
    """The tensor's version counter; ``None`` for a tensor made under ``torch.inference_mode()``,
    which has none (reading it raises). Such a tensor is then keyed by identity alone: the
    pipelines build a fresh packed visual prompt per call and never modify it in place."""
    return None if tensor.is_inference() else tensor._version


class VisualPromptProjection(nn.Module):
    """The UNet's ``encoder_hid_proj`` while a visual prompt is loaded (diffusers' slot for
    IP-Adapter's image projection): packed bank tokens -> :class:`VisualTokens`."""

    def __init__(self, projector: nn.Module) -> None:
        super().__init__()
        self.projector = projector
        self._cache = _PerTensorCache()

    def forward(self, image_embeds: Any) -> VisualTokens:
        """``image_embeds``: the packed visual prompt, or ``[packed, layer_scales]`` where
        ``layer_scales`` ``[rows, 1, 1, layers]`` holds every layer's scale as the pipeline
        captured it at the start of its call (:func:`layer_scales_tensor`)."""
        embeds = list(image_embeds) if isinstance(image_embeds, (list, tuple)) else [image_embeds]
        packed, scales = embeds[0], (embeds[1] if len(embeds) > 1 else None)
        compiling = torch.compiler.is_compiling()
        cached = None if compiling else self._cache.get(packed)
        if cached is not None and cached[0] is scales:  # the same prompt at every step
            return cached[1]
        tokens, log_w, rows = unpack_visual_prompt(packed)
        param = next(self.projector.parameters())
        hidden = self.projector(tokens.to(param.dtype), log_weights=log_w.to(param.dtype))
        scale_tensor = None if scales is None else scales.reshape(-1, scales.shape[-1])[0]
        if compiling:  # no host reads in a graph: every row counts as active, scales as tensors
            return VisualTokens(hidden, log_w, rows, True, None, scale_tensor)
        layer_scales = None if scale_tensor is None else tuple(scale_tensor.tolist())
        active = bool((rows != 0).any())
        visual = VisualTokens(hidden, log_w, rows, active, layer_scales, scale_tensor)
        return self._cache.put(packed, (scales, visual))[1]


class VisualPromptAttnProcessor(nn.Module):
    """Attention processor with a decoupled visual-prompt branch.

    Args:
        hidden_size (`int`): the attention layer's inner width (``attn.to_q.out_features``).
        cross_attention_dim (`int`): width of the projected visual tokens.
        base_processor (`Callable`): the layer's original processor (used for the text branch
            when the visual branch is off, which makes scale 0 bit-identical to the base model).
        scale (`float`, *optional*, defaults to 1.0): weight of the visual branch in this layer.
    """

    #: How the visual branch adds the log retrieval weights to its attention logits. ``"key"``
    #: carries them in :data:`BIAS_CHANNELS` extra key channels, facing query channels of
    #: constant 1 (``q.k / sqrt(d) + log w`` exactly), so the attention takes no mask and a GPU
    #: runs it on its fused (flash) kernels. ``"mask"`` passes them as an additive attention mask.
    #: The two agree within the dtype's rounding. ``"auto"`` (the default) takes ``"key"`` on CUDA
    #: and ``"mask"`` elsewhere, as measured (``benchmarks/gpu_runs/``: on an H200 a whole
    #: SDXL-size UNet step costs 1.13-1.16x the base step by key and 1.35-1.42x by mask, 1.07x
    #: and 1.17x replayed from CUDA graphs; on a CPU the mask is a few percent cheaper).
    kernel: str = "auto"

    # set with object.__setattr__ in __init__: plain attributes, not submodules
    base_processor: Any
    _kv_cache: _PerTensorCache

    def __init__(
        self, hidden_size: int, cross_attention_dim: int, base_processor: Any, scale: float = 1.0
    ) -> None:
        super().__init__()
        self.to_k_vp = nn.Linear(cross_attention_dim, hidden_size, bias=False)
        self.to_v_vp = nn.Linear(cross_attention_dim, hidden_size, bias=False)
        self.scale = scale
        #: position among the adapter's layers: where its scale is in ``VisualTokens.layer_scales``
        self.layer_index = 0
        # plain attributes (not submodules): the base processor is restored on unload
        object.__setattr__(self, "base_processor", base_processor)
        object.__setattr__(self, "_kv_cache", _PerTensorCache())

    def scale_for(self, visual: VisualTokens | None) -> float:
        """This layer's scale for the call that produced ``visual``: the value captured when the
        call started (so :meth:`VisualPromptMixin.set_visual_prompt_scale` from another thread
        never changes a running generation), else the current one (a direct UNet call)."""
        if visual is not None and visual.layer_scales is not None:
            return visual.layer_scales[self.layer_index]
        return self.scale

    def _compiled_scale(self, visual: VisualTokens) -> float | torch.Tensor:
        """:meth:`scale_for` while ``torch.compile`` traces: the captured scale as a 0-d tensor
        (read in the graph, so another scale reuses the graph), else the current float."""
        if visual.layer_scale_tensor is not None:
            return visual.layer_scale_tensor[self.layer_index]
        return self.scale

    def _visual_kv(
        self,
        visual: VisualTokens,
        heads: int,
        head_dim: int,
        like: torch.Tensor,
        scale: float | torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(K, scale * row_scale * V, log-weight bias)`` of the visual tokens, once per
        generation at inference (the row scale is folded into V: one op less per step). With the
        ``"key"`` kernel the bias rides in K's extra channels (V gets zeros there) and the third
        item is ``None``."""
        kernel = self.kernel
        if kernel not in KERNELS:
            raise UserInputError(
                f"VisualPromptAttnProcessor.kernel is {kernel!r}; use one of {', '.join(KERNELS)}."
            )
        if kernel == "auto":
            kernel = "key" if like.is_cuda else "mask"
        compiling = torch.compiler.is_compiling()
        cached = None if compiling else self._kv_cache.get(visual.hidden_states)
        if cached is not None and cached[0] == (scale, like.dtype, like.device, kernel):
            return cached[1]
        batch = visual.hidden_states.shape[0]
        tokens = visual.hidden_states.to(self.to_k_vp.weight.dtype)
        key = self.to_k_vp(tokens).to(like.dtype).view(batch, -1, heads, head_dim).transpose(1, 2)
        value = self.to_v_vp(tokens).to(like.dtype).view(batch, -1, heads, head_dim).transpose(1, 2)
        value = value * (scale * visual.row_scale.to(like.dtype)).view(-1, 1, 1, 1)
        out: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]
        if kernel == "mask":
            out = (key, value, visual.log_weights.to(like.dtype)[:, None, None, :])
        else:
            # q' = [q, 1 x C], k' = [k, sqrt(d) log w / C x C]:
            # q'.k' / sqrt(d) = q.k / sqrt(d) + log w
            share = visual.log_weights.float() * (head_dim**0.5 / BIAS_CHANNELS)
            extra = share.to(like.dtype)[:, None, :, None].expand(-1, heads, -1, BIAS_CHANNELS)
            key = torch.cat([key, extra], dim=-1)
            value = F.pad(value, (0, BIAS_CHANNELS))
            out = (key, value, None)
        if not compiling:
            self._kv_cache.put(
                visual.hidden_states, ((scale, like.dtype, like.device, kernel), out)
            )
        return out

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: Any = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        visual = None
        if isinstance(encoder_hidden_states, tuple):
            encoder_hidden_states, visual = encoder_hidden_states
        if visual is not None and torch.compiler.is_compiling():
            # no host reads in a graph: the branch runs at every scale (0 adds exact zeros)
            scale: float | torch.Tensor = self._compiled_scale(visual)
        else:
            scale = self.scale_for(visual)
        if (
            visual is None
            or not visual.active
            or (not isinstance(scale, torch.Tensor) and scale == 0)
        ):
            return self.base_processor(
                attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs
            )
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)
        batch_size, sequence_length, _ = encoder_hidden_states.shape
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(
                attention_mask, sequence_length, batch_size
            )
            attention_mask = attention_mask.view(
                batch_size, attn.heads, -1, attention_mask.shape[-1]
            )
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query = attn.to_q(hidden_states)
        if attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)
        inner_dim = key.shape[-1]
        head_dim = inner_dim // attn.heads
        query = query.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        text = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask)

        if visual.hidden_states.shape[0] != batch_size:
            raise UserInputError(
                f"UNet batch of {batch_size} rows got a visual prompt for "
                f"{visual.hidden_states.shape[0]}: pass one packed visual prompt per row."
            )
        vp_key, vp_value, bias = self._visual_kv(visual, attn.heads, head_dim, query, scale)
        # retrieval weights gate the visual attention itself: softmax(qk + log w); V carries
        # the scales, so this is out = text + scale * row_scale * Attn(Q, K_vis, V_vis)
        if bias is None:  # the "key" kernel: the weights ride in K's extra channels
            vp_query = F.pad(query, (0, BIAS_CHANNELS), value=1.0)
            visual_out = F.scaled_dot_product_attention(
                vp_query, vp_key, vp_value, scale=head_dim**-0.5
            )[..., :head_dim]
        else:
            visual_out = F.scaled_dot_product_attention(query, vp_key, vp_value, attn_mask=bias)
        hidden_states = text + visual_out
        hidden_states = hidden_states.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim)
        hidden_states = hidden_states.to(query.dtype)

        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(
                batch_size, channel, height, width
            )
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def cross_attention_layers(unet: Any) -> dict[str, Attention]:
    """Processor name -> attention module, for every cross-attention layer of a diffusers UNet."""
    layers = {}
    for name in unet.attn_processors:
        if name.endswith("attn2.processor"):
            # an attn2 processor belongs to a diffusers Attention module
            layers[name] = cast("Attention", unet.get_submodule(name.removesuffix(".processor")))
    return layers


ADAPTER_FORMAT = "emotion-director-visual-prompt-adapter"


class VisualPromptAdapter(nn.Module):
    """The trainable parts: the projector and the visual K/V of every cross-attention layer."""

    def __init__(self, projector: nn.Module, processors: Mapping[str, VisualPromptAttnProcessor]):
        super().__init__()
        self.projector = projector
        self.layers = nn.ModuleDict({_key(n): p for n, p in processors.items()})

    def save(self, path: str | Path, metadata: Mapping[str, str] | None = None) -> None:
        """Write the adapter (temporary file, then an atomic rename)."""
        from emotion_director.errors import AdapterError
        from emotion_director.files import write_safetensors

        tensors = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        write_safetensors(
            path,
            tensors,
            what="adapter",
            metadata={"format": ADAPTER_FORMAT, **(metadata or {})},
            error=AdapterError,
        )


def _key(name: str) -> str:
    return name.removesuffix(".processor").replace(".", "__")


#: seed of a new projector's initial weights (see ``load_visual_prompt(init_seed=...)``)
PROJECTOR_INIT_SEED = 0


class VisualPromptMixin:
    """``load_visual_prompt`` / ``set_visual_prompt_scale`` / ``unload_visual_prompt`` for a
    pipeline-like object with a ``unet`` attribute, in the manner of diffusers' IP-Adapter API.
    """

    unet: Any
    #: what :meth:`load_visual_prompt` installed (``None`` after :meth:`unload_visual_prompt`)
    visual_prompt_adapter: VisualPromptAdapter | None
    visual_prompt_bank: VisualPromptBank
    _vp_original: dict[str, Any] | None

    def load_visual_prompt(
        self,
        bank: Any,
        projector: VisualPromptProjector | str | None = None,
        adapter_weights: str | Path | Mapping[str, torch.Tensor] | None = None,
        scale: float | dict | list[float | dict] = 1.0,
        *,
        preset: Any = None,
        init_seed: int = PROJECTOR_INIT_SEED,
        subfolder: str | None = None,
        weight_name: str | None = None,
        bank_name: str = "bank.safetensors",
    ) -> VisualPromptAdapter:
        """Install visual-prompt processors on every cross-attention layer.

        Args:
            bank (`VisualPromptBank`, `str` or `os.PathLike`): the per-emotion tokens, a bank
                file, or a folder / hub id holding ``bank.safetensors`` and (optionally) the
                adapter weights named by ``weight_name`` (what ``train dpo`` writes).
            projector (`nn.Module` or `str`, *optional*): maps bank tokens to the UNet's
                cross-attention width: a module, or a layout name (``"mlp-attn-norm"``,
                ``"mlp-norm-attn"``, see :mod:`~emotion_director.diffusion.projector`) that the
                adapter weights must have been trained with. Omitted: the layout the adapter
                weights were saved from, else the one the bank records, else ``mlp-attn-norm``.
            adapter_weights (`str` or state dict, *optional*): trained projector + K/V weights
                (a ``.safetensors`` file saved by :meth:`VisualPromptAdapter.save`). Without them
                the visual K/V start as copies of each layer's text ``to_k``/``to_v``.
            scale (`float` or `dict`, *optional*, defaults to 1.0): see
                :meth:`set_visual_prompt_scale`.
            preset (`str` or `Preset`, *optional*): a preset's name (e.g. ``"paper"``): its
                projector is used, and a bank or adapter that records another one is refused
                (:class:`~emotion_director.errors.SettingsError`).
            init_seed (`int`, *optional*, defaults to :data:`PROJECTOR_INIT_SEED`): seeds the
                initial weights of a new projector (and of any visual K/V not copied from the
                layer), so a pipeline without adapter weights gives the same images in every
                process; the global RNG is left untouched.
            subfolder (`str`, *optional*): folder inside the repo / directory.
            weight_name (`str`, *optional*): adapter file inside the folder; defaults to
                ``adapter.safetensors`` when the folder has one.
            bank_name (`str`, *optional*, defaults to ``bank.safetensors``): bank file in the
                folder.
        """
        from emotion_director.diffusion.bank import VisualPromptBank
        from emotion_director.diffusion.projector import make_projector

        bank_source = "the bank"
        if isinstance(bank, (str, Path)):
            bank_source = f"bank {bank}"
            bank, found = _resolve_visual_prompt(bank, subfolder, weight_name, bank_name)
            adapter_weights = adapter_weights or found
        assert isinstance(bank, VisualPromptBank)
        state, records = None, []
        if adapter_weights is not None:
            state, trained_with = _adapter_state(adapter_weights)
            source = (
                f"adapter {adapter_weights}"
                if isinstance(adapter_weights, (str, Path))
                else "the adapter weights"
            )
            records.append((source, trained_with))
        kind = _projector_kind(projector, preset, records, (bank_source, bank))
        if getattr(self, "_vp_original", None):
            self.unload_visual_prompt()
        cross_dim = self.unet.config.cross_attention_dim
        cross_dim = cross_dim[0] if isinstance(cross_dim, (list, tuple)) else cross_dim
        # a private, seeded RNG: the global one differs per process (torch seeds it randomly)
        with torch.random.fork_rng(devices=[]), torch.device("cpu"):
            torch.manual_seed(init_seed)
            if isinstance(projector, nn.Module):
                built = projector
            else:  # every projector make_projector builds has VisualPromptProjector's interface
                built = cast("VisualPromptProjector", make_projector(kind, bank.dim, cross_dim))
            processors = self._new_visual_prompt_processors(cross_dim)
        bank.check_compatible(dim=built.in_dim)
        if self.unet.encoder_hid_proj is not None:
            raise UserInputError(
                "this UNet already has an encoder_hid_proj (an IP-Adapter is loaded?): "
                "unload it before loading a visual prompt."
            )
        original = dict(self.unet.attn_processors)
        new: dict[str, Any] = {**original, **processors}
        adapter = VisualPromptAdapter(built, processors)
        if state is not None:
            _load_adapter_weights(adapter, state)
        adapter.projector.to(self.unet.device)
        self.unet.set_attn_processor(new)
        # diffusers' IP-Adapter slot: the UNet projects `added_cond_kwargs["image_embeds"]`
        self.unet.encoder_hid_proj = VisualPromptProjection(adapter.projector)
        self.unet.config.encoder_hid_dim_type = "ip_image_proj"
        _allow_text_only_calls(self.unet)
        self._vp_original = original
        self.visual_prompt_adapter = adapter
        self.visual_prompt_bank = bank
        self.set_visual_prompt_scale(scale)
        return adapter

    def _new_visual_prompt_processors(self, cross_dim: int) -> dict[str, VisualPromptAttnProcessor]:
        """A visual-prompt processor per cross-attention layer; its K/V start as copies of the
        layer's text ``to_k``/``to_v``."""
        original = self.unet.attn_processors
        processors = {}
        for index, (name, attn) in enumerate(cross_attention_layers(self.unet).items()):
            proc = VisualPromptAttnProcessor(
                attn.to_q.out_features, attn.to_k.in_features, original[name]
            )
            proc.layer_index = index
            if attn.to_k.in_features == cross_dim:
                with torch.no_grad():
                    proc.to_k_vp.weight.copy_(attn.to_k.weight)
                    proc.to_v_vp.weight.copy_(attn.to_v.weight)
            proc.to(device=attn.to_q.weight.device, dtype=attn.to_q.weight.dtype)
            processors[name] = proc
        return processors

    def set_visual_prompt_scale(self, scale: float | dict | list[float | dict]) -> None:
        """Weight of the visual branch, for every layer or per block (0 turns it off exactly).

        Takes what diffusers' ``set_ip_adapter_scale`` takes: a float, or a dict such as
        ``{"down": {"block_1": [0.0, 1.0]}, "up": {"block_0": [0.0, 1.0, 0.0]}}``; layers a dict
        does not mention get 0, as in diffusers.
        """
        processors = dict(self._visual_prompt_processors())
        if isinstance(scale, list):
            if len(scale) != 1:
                raise UserInputError("one visual prompt is loaded: pass one scale setting.")
            scale = scale[0]
        if not isinstance(scale, dict):
            for proc in processors.values():
                proc.scale = float(scale)
            return
        from diffusers.loaders.unet_loader_utils import _maybe_expand_lora_scales

        try:
            expanded = _maybe_expand_lora_scales(self.unet, [scale], default_scale=0.0)[0]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise UserInputError(f"invalid per-block visual prompt scale: {exc}") from None
        for name, proc in processors.items():
            proc.scale = 0.0
            for prefix, value in expanded.items():
                if name.startswith(prefix):
                    proc.scale = float(value)

    def visual_prompt_scales(self) -> tuple[float, ...]:
        """Every layer's current scale, in layer order. A pipeline captures them when its call
        starts and passes them with the packed visual prompt (``ip_adapter_image_embeds=[packed,
        scales]``, see :func:`layer_scales_tensor`), so its whole call uses the same scales."""
        processors = [p for _, p in self._visual_prompt_processors()]
        scales = [0.0] * len(processors)
        for proc in processors:
            scales[proc.layer_index] = float(proc.scale)
        return tuple(scales)

    def unload_visual_prompt(self) -> None:
        """Restore the UNet's original processors and free its ``encoder_hid_proj`` slot."""
        original = getattr(self, "_vp_original", None)
        if original:
            self.unet.set_attn_processor(original)
            self.unet.encoder_hid_proj = None
            self.unet.config.encoder_hid_dim_type = None
            self.unet.__dict__.pop("process_encoder_hidden_states", None)
        self._vp_original = None
        self.visual_prompt_adapter = None

    def _visual_prompt_processors(self) -> list[tuple[str, VisualPromptAttnProcessor]]:
        if getattr(self, "visual_prompt_adapter", None) is None:
            raise UserInputError("no visual prompt loaded: call load_visual_prompt(bank) first.")
        return [
            (n, p)
            for n, p in self.unet.attn_processors.items()
            if isinstance(p, VisualPromptAttnProcessor)
        ]


def _allow_text_only_calls(unet: Any) -> None:
    """Let a call without ``image_embeds`` run as the plain text-to-image model.

    diffusers' UNet refuses a call without ``image_embeds`` once ``encoder_hid_dim_type`` is
    ``ip_image_proj``; with the visual prompt that would break the base pipeline used directly
    (e.g. a text-only baseline next to MC-Diffusion). Such a call now keeps the text states alone,
    so every processor takes its base path: the output equals the base model's.
    """
    process = type(unet).process_encoder_hidden_states.__get__(unet)

    def process_encoder_hidden_states(encoder_hidden_states: Any, added_cond_kwargs: Any) -> Any:
        if not added_cond_kwargs or "image_embeds" not in added_cond_kwargs:
            return encoder_hidden_states
        return process(
            encoder_hidden_states=encoder_hidden_states, added_cond_kwargs=added_cond_kwargs
        )

    unet.__dict__["process_encoder_hidden_states"] = process_encoder_hidden_states


def _resolve_visual_prompt(
    source: str | Path, subfolder: str | None, weight_name: str | None, bank_name: str
) -> tuple[Any, str | None]:
    """A bank file, or a folder / hub id with the bank and adapter files -> (bank, adapter path)."""
    from emotion_director.diffusion.bank import VisualPromptBank

    path = Path(source)
    if path.is_file():
        return VisualPromptBank.load(path), None
    if path.is_dir():
        folder = path / subfolder if subfolder else path
        adapter = folder / (weight_name or "adapter.safetensors")
        if weight_name and not adapter.is_file():
            raise AdapterError(f"{adapter}: adapter weights not found in {folder}.")
        return (
            VisualPromptBank.load(folder / bank_name),
            str(adapter) if adapter.is_file() else None,
        )
    try:
        from huggingface_hub import hf_hub_download

        bank_file = hf_hub_download(str(source), bank_name, subfolder=subfolder)
        adapter_file = hf_hub_download(
            str(source), weight_name or "adapter.safetensors", subfolder=subfolder
        )
    except Exception as exc:  # offline, unknown repo, missing file: all one user error
        raise BankError(
            f"visual prompt '{source}' is neither a bank file, a folder, nor a hub repo available "
            f"offline ({type(exc).__name__}): pass a bank.safetensors or a train dpo output folder."
        ) from None
    return VisualPromptBank.load(bank_file), adapter_file


def _adapter_state(
    weights: str | Path | Mapping[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], str | None]:
    """Adapter weights and the projector layout they were trained with (the file's header, else
    read from the parameter names; ``None`` when neither says)."""
    from emotion_director.diffusion.projector import projector_kind_of_state

    meta: dict[str, str] = {}
    if isinstance(weights, (str, Path)):
        state = read_safetensors(Path(weights), what="adapter weights", fmt=ADAPTER_FORMAT)
        meta = read_safetensors_metadata(Path(weights))
    else:
        state = dict(weights)
    return state, meta.get("projector") or projector_kind_of_state(state)


def _projector_kind(
    projector: nn.Module | str | None,
    preset: Any,
    records: list[tuple[str, str | None]],
    bank: tuple[str, Any],
) -> str:
    """The projector layout to build (see :meth:`VisualPromptMixin.load_visual_prompt`)."""
    from emotion_director.diffusion.presets import resolve_projector

    if isinstance(projector, nn.Module):
        return str(getattr(projector, "kind", ""))
    if isinstance(projector, str):
        for source, trained_with in records:  # weights must fit: a clear line, not a key list
            if trained_with is not None and trained_with != projector:
                raise AdapterError(
                    f"{source} was trained with the {trained_with} projector, not {projector}: "
                    f"set the projector to {trained_with} or train new weights."
                )
        return resolve_projector(None, [("the projector argument", projector)])
    source, loaded = bank
    recorded = loaded.metadata.get("projector")
    return resolve_projector(preset, [*records, (source, recorded if recorded else None)])


def read_safetensors_metadata(path: Path) -> dict[str, str]:
    """The string header of a safetensors file (``{}`` when it cannot be read)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except Exception:  # read_safetensors reports an unreadable file
        return {}


def _load_adapter_weights(adapter: VisualPromptAdapter, state: Mapping[str, torch.Tensor]) -> None:
    state = dict(state)
    try:
        adapter.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise AdapterError(
            f"adapter weights do not fit this UNet/projector: {str(exc).splitlines()[0]} — use "
            "the weights trained for this base model and bank."
        ) from None


def read_safetensors(path: Path, *, what: str, fmt: str | None = None) -> dict[str, torch.Tensor]:
    """Load a safetensors file or raise a one-line :class:`AdapterError` naming the file and the
    fix."""
    from emotion_director.files import load_safetensors

    meta, state = load_safetensors(
        path,
        what=what,
        hint="pass the file written by `emotion-director train dpo`",
        error=AdapterError,
    )
    if fmt and meta.get("format") not in (None, fmt):
        raise AdapterError(f"{path}: not {what} (format {meta.get('format')!r}, expected {fmt!r}).")
    return state
