r"""Diffusion-DPO with a negative visual prompt: one module, the formulas in one place.

Notation: for a noisy latent :math:`x_t` of image :math:`x` with noise :math:`\epsilon`,
text :math:`c` and visual prompt :math:`v`, the denoising error is
:math:`e_\theta(x, v) = \lVert \epsilon - \epsilon_\theta(x_t, t, c, v) \rVert^2`
(mean over C, H, W). The reference :math:`e_{ref}` is the same UNet with the *initial*
trainable parts.

**Image-pair term** (Wallace et al., *Diffusion Model Alignment Using Direct Preference
Optimization*; diffusers' ``train_diffusion_dpo.py`` form). Winner :math:`w`, loser :math:`l`, both
under the target emotion's visual prompt :math:`v^+`:

.. math::

    d_\theta = e_\theta(w, v^+) - e_\theta(l, v^+), \quad
    d_{ref} = e_{ref}(w, v^+) - e_{ref}(l, v^+), \quad
    z = d_{ref} - d_\theta

**Negative-visual-prompt term.** The same noisy winner and text, under the target emotion's visual
prompt (preferred) versus another emotion's :math:`v^-` (dispreferred):

.. math::

    d^{nvp}_\theta = e_\theta(w, v^+) - e_\theta(w, v^-), \quad
    z^{nvp} = d^{nvp}_{ref} - d^{nvp}_\theta

so the policy's error gap between right and wrong emotion grows relative to the reference.

**Variants**, for logits :math:`z` and :math:`\beta`:

* ``sigmoid``: :math:`-\log\sigma(\tfrac{\beta}{2} z)`. This is the form of the Diffusion-DPO
  reference code (its SD 1.5 and SDXL scripts), which writes
  ``-logsigmoid(-0.5 * beta_dpo * (model_diff - ref_diff))``: ``beta`` here is its ``beta_dpo``
  one for one (5000 for SD 1.5 and SDXL in its recipes). diffusers' port
  (``examples/research_projects/diffusion_dpo/train_diffusion_dpo.py``) writes
  ``-logsigmoid(beta_dpo * logits)`` without the 1/2: its ``beta_dpo`` is ``beta / 2`` here.
* ``hinge``: :math:`\max(0, 1 - \tfrac{\beta}{2} z)`.
* ``ipo``: :math:`(z - \tfrac{1}{\beta})^2` — IPO's squared loss on the log-ratio difference with
  target :math:`1/(2\tau)`, :math:`\tau = \beta/2`. (diffusers' port writes
  ``(logits - 1 / (2 * args.beta)) ** 2`` with an ``args.beta`` its parser does not define;
  with its ``beta_dpo`` = ``beta / 2`` here, the target is the same, :math:`1/\beta`.)

Total: ``image_weight * mean(image term) + nvp_weight * mean(nvp term)``. Implicit accuracy is
the share of :math:`z > 0`, a tie :math:`z = 0` counting one half (as diffusers counts it); the
reward margin is :math:`\tfrac{\beta}{2} z`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

Variant = Literal["sigmoid", "hinge", "ipo"]


def denoising_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample MSE, mean over every dim but the first."""
    return (pred.float() - target.float()).pow(2).mean(dim=tuple(range(1, pred.ndim)))


def preference_loss(
    logits: torch.Tensor, beta: float, variant: Variant = "sigmoid"
) -> torch.Tensor:
    """Per-sample loss for logits ``z = d_ref - d_theta`` (see the module doc)."""
    if variant == "sigmoid":
        return -F.logsigmoid(0.5 * beta * logits)
    if variant == "hinge":
        return torch.relu(1 - 0.5 * beta * logits)
    if variant == "ipo":
        return (logits - 1 / beta) ** 2
    raise ValueError(f"unknown loss variant '{variant}': use sigmoid, hinge or ipo.")


def _accuracy(z: torch.Tensor) -> torch.Tensor:
    """1 where the policy prefers the winner more than the reference does, 0.5 on a tie."""
    return (z > 0).float() + 0.5 * (z == 0).float()


@dataclass
class DPOTerms:
    loss: torch.Tensor
    image_loss: torch.Tensor
    nvp_loss: torch.Tensor
    accuracy: torch.Tensor
    margin: torch.Tensor
    nvp_accuracy: torch.Tensor


def dpo_objective(
    model_err: dict[str, torch.Tensor],
    ref_err: dict[str, torch.Tensor],
    *,
    beta: float,
    variant: Variant = "sigmoid",
    image_weight: float = 1.0,
    nvp_weight: float = 1.0,
    pair_mask: torch.Tensor | None = None,
) -> DPOTerms:
    """Combine per-sample errors into the total loss and its diagnostics.

    Args:
        model_err, ref_err (`dict`): per-sample errors with keys ``"w"`` (winner, target visual
            prompt), ``"l"`` (loser, target; may be absent when there are no pairs) and ``"neg"``
            (winner, negative visual prompt; absent when ``nvp_weight`` is 0).
        pair_mask (`torch.Tensor`, *optional*): 1 where the sample has a loser image; plain
            emotion records only contribute to the negative-visual-prompt term.
    """
    zero = model_err["w"].new_zeros(())
    image_loss, acc, margin = zero, zero, zero
    if image_weight and "l" in model_err:
        z = (ref_err["w"] - ref_err["l"]) - (model_err["w"] - model_err["l"])
        mask = torch.ones_like(z) if pair_mask is None else pair_mask.to(z)
        denom = mask.sum().clamp(min=1)
        image_loss = (preference_loss(z, beta, variant) * mask).sum() / denom
        acc = (_accuracy(z) * mask).sum() / denom
        margin = (0.5 * beta * z * mask).sum() / denom
    nvp_loss, nvp_acc = zero, zero
    if nvp_weight and "neg" in model_err:
        z_nvp = (ref_err["w"] - ref_err["neg"]) - (model_err["w"] - model_err["neg"])
        nvp_loss = preference_loss(z_nvp, beta, variant).mean()
        nvp_acc = _accuracy(z_nvp).mean()
    return DPOTerms(
        loss=image_weight * image_loss + nvp_weight * nvp_loss,
        image_loss=image_loss.detach(),
        nvp_loss=nvp_loss.detach(),
        accuracy=acc.detach(),
        margin=margin.detach(),
        nvp_accuracy=nvp_acc.detach(),
    )
