r"""Feature attenuation: scale channels of a layer and measure the change of a class logit.

For layer :math:`l` with activations :math:`A = (A_1,\dots,A_K)`, a channel set :math:`S` and a factor
:math:`\alpha\in[0,1]`, the attenuated network replaces :math:`A_k` by :math:`\alpha A_k` for :math:`k\in S`:

.. math:: \Delta f_c(\alpha) = f_c(x) - f_c(x;\,A_S \leftarrow \alpha A_S).

Its first-order Taylor prediction around :math:`\alpha = 1` is
:math:`(1-\alpha)\sum_{k\in S}\langle \partial f_c/\partial A_k,\; A_k\rangle`. :math:`\alpha=1` changes nothing;
:math:`\alpha=0` is the ablation of :math:`S`.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn


@contextlib.contextmanager
def attenuated(layer: nn.Module, channels, alpha: float):
    """Within the block, ``layer``'s output channels ``channels`` are multiplied by ``alpha``."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    channels = torch.as_tensor(channels, dtype=torch.long).reshape(-1)

    def hook(module, inputs, output):
        scale = torch.ones(output.shape[1], device=output.device, dtype=output.dtype)
        scale[channels.to(output.device)] = alpha
        return output * scale.view(1, -1, *([1] * (output.ndim - 2)))

    handle = layer.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@torch.no_grad()
def attenuation_effect(model: nn.Module, layer: nn.Module, x: torch.Tensor, targets: torch.Tensor, channels,
                       alphas) -> np.ndarray:
    """Measured Δf_c(α) for each α (rows) and image (columns). Forward passes only, without autograd's bookkeeping;
    at α = 1 nothing is attenuated, so Δ is 0 there without a pass."""
    model.eval()
    idx = torch.arange(len(x))
    with torch.no_grad():
        base = model(x)[idx, targets]
        out = []
        for alpha in alphas:
            if float(alpha) == 1.0:
                out.append(np.zeros(len(x), dtype=np.float32))
                continue
            with attenuated(layer, channels, float(alpha)):
                out.append((base - model(x)[idx, targets]).cpu().numpy())
    return np.stack(out)


def taylor_channel_scores(model: nn.Module, layer: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """⟨∂f_c/∂A_k, A_k⟩ for every image (rows) and channel k of ``layer`` (columns)."""
    model.eval()
    stash = {}

    def hook(module, inputs, output):
        output.retain_grad()
        stash["a"] = output

    handle = layer.register_forward_hook(hook)
    try:
        logits = model(x)
        logits[torch.arange(len(x)), targets].sum().backward()
    finally:
        handle.remove()
    a = stash["a"]
    scores = (a.grad * a).flatten(2).sum(2).detach().cpu().numpy()
    model.zero_grad(set_to_none=True)
    return scores


def taylor_prediction(scores: np.ndarray, channels, alphas) -> np.ndarray:
    """First-order prediction (1 − α) Σ_{k∈S} ⟨∂f_c/∂A_k, A_k⟩, shaped like :func:`attenuation_effect`."""
    total = scores[:, np.asarray(channels).reshape(-1)].sum(1)
    return np.stack([(1 - float(a)) * total for a in alphas])


def attenuation_channels(order: np.ndarray, limit: int) -> np.ndarray:
    """The channels to attenuate one by one (11 factors each, on every explained image): all of them when there are at
    most ``limit`` (the profile's ``attenuation_channels``), else ``limit`` evenly spaced over ``order`` (channels
    sorted by first-order score, best first: the first and last included), sorted. A ResNet's last stage has 512
    channels, which at 224 px would take hours on a CPU; a spread over the ranking keeps the curves and correlations."""
    order = np.asarray(order)
    if limit < 2:
        raise ValueError(f"limit = {limit!r} is not allowed: expected an integer ≥ 2")
    if len(order) <= limit:
        return np.sort(order)
    picks = np.unique(np.round(np.linspace(0, len(order) - 1, limit)).astype(int))
    return np.sort(order[picks])
