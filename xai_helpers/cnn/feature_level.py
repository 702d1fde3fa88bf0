"""Feature-level explanations: which channels matter for which class, and what they respond to."""
from __future__ import annotations

import numpy as np
import torch
from captum.attr import LayerGradientXActivation
from torch import nn

from .captum_ready import ACTIVATIONS, ImageClassifier


def conv_activation_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, ReLU module) after each Conv2d, in forward order: the layers whose channels we attribute. A supplied
    model (:class:`.captum_ready.ImageClassifier`) gives the channel layers chosen for it instead (first, Grad-CAM
    and deepest feature maps, :mod:`.layer_detection`): a ResNet has 17 ReLUs after convolutions."""
    if isinstance(model, ImageClassifier):
        if "channels" not in model.layers:
            raise LookupError("no channel layers chosen for this model (xai_helpers.cnn.model_sources.attach_layers)")
        return [(name, model.layer(name)) for name in model.layers["channels"]]
    layers, pending = [], False
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            pending = True
        elif pending and isinstance(module, nn.ReLU):
            layers.append((name, module))
            pending = False
    return layers


def channel_attributions(model: nn.Module, layer: nn.Module, x: torch.Tensor, targets: torch.Tensor,
                         batch_size: int = 256) -> np.ndarray:
    """Layer Gradient × Activation summed over space: (N, K), the contribution of each channel to f_c."""
    model.eval()
    lga = LayerGradientXActivation(model, layer)
    out = []
    for i in range(0, len(x), batch_size):
        attr = lga.attribute(x[i:i + batch_size], target=targets[i:i + batch_size])
        out.append(attr.flatten(2).sum(2).detach().cpu())
    return torch.cat(out).numpy()


def class_channel_importance(scores: np.ndarray, labels: torch.Tensor, num_classes: int) -> np.ndarray:
    """Mean channel contribution per class: (num_classes, K)."""
    labels = labels.numpy()
    return np.stack([scores[labels == c].mean(0) if (labels == c).any() else np.zeros(scores.shape[1])
                     for c in range(num_classes)])


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean anisotropic total variation of each image: (N,)."""
    return ((x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
            + (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1))


def maximise_activation(model: nn.Module, objective, n: int, shape, steps: int = 200, lr: float = 0.05,
                        l2: float = 0.3, tv: float = 3.0, jitter: int = 2, seed: int = 0) -> torch.Tensor:
    """Activation maximisation / input inversion with regularisation (Mahendran & Vedaldi 2015; Olah et al. 2017).

    Optimises ``n`` images x ∈ [0, 1] (parameterised through a sigmoid) to maximise, per image,
    ``s_i(x) / |s_i(x₀)| − l2·mean(x²) − tv·TV(x)``, with random jitter (translations up to ``jitter`` pixels)
    each step. The objective ``objective(model, x)`` (n scores) is divided by its magnitude at the start so that
    the same regularisation weights suit class logits (order 10) and channel means (order 0.1). Returns
    (n, *shape) images.
    """
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    logit_x = (torch.randn((n, *shape), generator=gen) * 0.1).to(device).requires_grad_(True)
    with torch.no_grad():
        scale = objective(model, torch.sigmoid(logit_x)).abs().clamp_min(1e-3)
    opt = torch.optim.Adam([logit_x], lr=lr)
    for _ in range(steps):
        x = torch.sigmoid(logit_x)
        shifted = x
        if jitter:
            dx, dy = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=gen))
            shifted = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
        score = objective(model, shifted) / scale
        loss = (-score + l2 * (x ** 2).flatten(1).mean(1) + tv * total_variation(x)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in model.parameters():
        p.grad = None
    return torch.sigmoid(logit_x).detach().cpu()


def class_logit_objective(classes):
    classes = torch.as_tensor(classes)

    def objective(model, x):
        return model(x)[torch.arange(len(x)), classes.to(x.device)]
    return objective


def channel_objective(layer: nn.Module, channels):
    """Pre-activation of the centre unit of channel ``channels[i]`` at ``layer`` (the input of that ReLU), for
    image i: what one unit of the channel responds to in its receptive field (a channel-wide mean is maximised
    by flat images). Pre-activations, as in Lucid: a ReLU output at zero has no gradient to climb. A layer that is
    no activation module (a residual block or stage of a supplied model) is read at its output, whose channels are
    the ones attributed."""
    channels = torch.as_tensor(channels)
    pre_activation = isinstance(layer, ACTIVATIONS)

    def objective(model, x):
        stash = {}
        handle = layer.register_forward_hook(lambda m, i, o: stash.__setitem__("a", i[0] if pre_activation else o))
        try:
            model(x)
        finally:
            handle.remove()
        a = stash["a"]
        h, w = a.shape[-2:]
        return a[torch.arange(len(x)), channels.to(x.device), h // 2, w // 2]
    return objective
