"""Layer-wise relevance propagation (Bach et al. 2015) that conserves the explained logit, on the study's CNNs and on
torchvision's residual networks.

LRP hands the logit f_c(x) back through the network, layer by layer, so that the relevances of the input pixels sum
to about f_c(x). Which rule each layer needs depends on the architecture:

* **The study's CNNs and other plain stacks**: captum's ``LRP``, the ε rule (ε = 1e-9) on convolutions, batch norms,
  linear and pooling layers. It is exact there, and a test checks it against zennit's ε rule on the same network.
* **torchvision ResNets (ResNet, ResNeXt, Wide ResNet) and VGGs**: captum has no rule for a residual addition (the
  relevance of a trained ResNet-18 sums to about 1e10 for logits of about 10) and does not merge batch norms into
  their convolutions. zennit does both: its canonizers rewrite each residual block's addition as a module with the
  sum rule and fold every batch norm into the convolution before it, and the composite ``EpsilonPlusFlat``
  (Kohlbrenner et al. 2020, the recommended one for such CNNs) applies ε to dense layers, z⁺ to convolutions and the
  flat rule to the first layer. The rules leave the biases out (zennit's ``zero_params="bias"``): folding a batch
  norm moves its shift into a bias, and biases in the rules absorb relevance, about half of it on a ResNet-18
  trained here (median conservation ratio 0.48 on 64 images of a colour clothing set, quick profile), so a map
  would show half of what the logit holds; without them each layer hands its relevance on whole (up to ε and the
  stabiliser), the ratio is near 1, and the map is the distribution of the logit itself. zennit is used through its
  own ``Gradient`` attributor, started at the explained logit (not at 1), so that its maps are in the same unit as
  captum's (whose ε rule on the study's CNNs keeps its biases: their few biases absorb little).

Any other model goes to captum, and every map is checked for conservation (:func:`conservation`): a map whose
relevance sums to more than :data:`LRP_CONSERVATION_LIMIT` times the logit is refused, naming the sums.

**Vision transformers are refused** (:data:`TRANSFORMER_LRP_REFUSAL`). Their LRP is AttnLRP (Achtibat et al. 2024),
whose implementation is LXT. LXT 2.1 explains torchvision's ViT, but it cannot be had here: ``lxt.efficient``
imports every model it patches, HF ``transformers`` among them, and the package requires ``transformers``,
``accelerate``, ``bitsandbytes`` and ``open_clip_torch``; and its ViT patch replaces the ``forward`` of
``torch.nn.GELU``, ``LayerNorm`` and ``MultiheadAttention`` for the whole process, which would change the gradients
that Saliency, Integrated Gradients and Grad-CAM read on the same model. captum's LRP has no rule for attention.
"""
from __future__ import annotations

import warnings

import torch
from captum.attr import LRP
from torch import nn

from .attention_rollout import has_attention

#: How far LRP's relevance sum may exceed the explained logit (plus 1) before the map is refused as not conserved.
LRP_CONSERVATION_LIMIT = 100.0


#: Why LRP is left out on a vision transformer (the module docstring says more).
TRANSFORMER_LRP_REFUSAL = ("a vision transformer needs AttnLRP (LXT), which is not installed: LXT 2.1 requires HF "
                           "transformers, accelerate, bitsandbytes and open_clip_torch, and patches torch's GELU, "
                           "LayerNorm and MultiheadAttention process-wide; captum's LRP has no rule for attention")


def lrp_backend(model: nn.Module) -> str:
    """How :func:`lrp` explains ``model``: ``"zennit EpsilonPlusFlat (bias-free) + ResNetCanonizer"`` when it holds
    torchvision's residual blocks (wherever they sit in it), ``"zennit EpsilonPlusFlat (bias-free) + VGGCanonizer"``
    when it holds a torchvision VGG, else ``"captum epsilon"``."""
    from torchvision.models import VGG
    from torchvision.models.resnet import BasicBlock, Bottleneck

    modules = list(model.modules())
    if any(isinstance(m, (BasicBlock, Bottleneck)) for m in modules):
        return "zennit EpsilonPlusFlat (bias-free) + ResNetCanonizer"
    if any(isinstance(m, VGG) for m in modules):
        return "zennit EpsilonPlusFlat (bias-free) + VGGCanonizer"
    return "captum epsilon"


def _zennit_relevance(model: nn.Module, x: torch.Tensor, target: torch.Tensor, backend: str) -> torch.Tensor:
    from zennit.attribution import Gradient
    from zennit.composites import EpsilonPlusFlat
    from zennit.torchvision import ResNetCanonizer, VGGCanonizer

    canonizer = ResNetCanonizer() if backend.endswith("ResNetCanonizer") else VGGCanonizer()
    with torch.no_grad():
        logits = model(x)
    start = torch.zeros_like(logits).scatter(1, target.view(-1, 1), logits.gather(1, target.view(-1, 1)))
    # grad on even where the caller turned it off (captum's max-sensitivity explains under no_grad): the rules are
    # backward hooks
    composite = EpsilonPlusFlat(zero_params="bias", canonizers=[canonizer])
    with torch.enable_grad(), Gradient(model=model, composite=composite) as attributor:
        _, relevance = attributor(x, start)
    return relevance.detach()


def _captum_relevance(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="captum")
            return LRP(model).attribute(x, target=target)
    except TypeError as err:  # a layer outside captum's short list of LRP rules (e.g. the attention sigmoid)
        raise ValueError(f"LRP cannot explain {type(model).__name__}: {err}") from None


def lrp(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """LRP relevance of the logit of class ``target`` (an int or one per image) for the images ``x``, by the backend
    :func:`lrp_backend` names; refused when it does not conserve (:func:`conservation`)."""
    if has_attention(model):
        raise ValueError(f"LRP cannot explain {type(getattr(model, 'net', model)).__name__}: {TRANSFORMER_LRP_REFUSAL}")
    target = torch.as_tensor(target, device=x.device).expand(len(x))
    backend = lrp_backend(model)
    if backend.startswith("zennit"):
        relevance = _zennit_relevance(model, x, target, backend)
    else:
        relevance = _captum_relevance(model, x, target)
    ratio, logit = conservation(model, x, target, relevance)
    total = ratio * logit
    if not torch.isfinite(total).all() or bool((total.abs() > LRP_CONSERVATION_LIMIT * (logit.abs() + 1)).any()):
        raise ValueError(f"LRP's relevance is not conserved on {type(getattr(model, 'net', model)).__name__} (sums up to "
                         f"{float(total.abs().max()):.3g} for logits of {float(logit.abs().max()):.3g}): {backend}'s "
                         "rules do not cover its layers (a residual addition, for one, needs a canonizer)")
    return relevance


def conservation(model: nn.Module, x: torch.Tensor, target, relevance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, (sum of the relevance / the explained logit, the logit): 1 where LRP conserves exactly."""
    target = torch.as_tensor(target, device=x.device).expand(len(x))
    with torch.no_grad():
        logit = model(x).gather(1, target.view(-1, 1))[:, 0]
    total = relevance.detach().flatten(1).sum(1)
    return total / logit, logit


def conservation_summary(model: nn.Module, x: torch.Tensor, target, relevance: torch.Tensor) -> dict:
    """What 02 records of LRP's maps: the backend, and the median and range of the conservation ratio."""
    ratio, _ = conservation(model, x, target, relevance)
    ratio = ratio.cpu()
    return {"backend": lrp_backend(model), "median": float(ratio.median()), "min": float(ratio.min()),
            "max": float(ratio.max()), "images": len(ratio)}
