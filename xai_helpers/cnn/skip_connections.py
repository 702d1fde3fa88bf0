"""The randomisation cascade on residual networks, with the skip connections cut.

On a ResNet the cascade mostly fails for every method: each residual block adds its input to its output, so after
the top blocks are randomised the input still reaches the head through the skip connections, and a map computed
through that path keeps the image's structure (Binder et al. 2023, "Shortcomings of top-down randomization-based
sanity checks"). To show it with numbers, 02 runs the cascade a second time on a copy whose residual blocks output
their residual branch alone, ReLU(F(x)) instead of ReLU(F(x) + x): the same weights, the same randomisation order,
no path around a randomised block. Where the maps then lose their similarity to the original, the skip connections
carried it. (The cut copy computes another function, so its own step-0 map is the reference of its cascade.)

Written here because no library offers it: Quantus' MPRT randomises layers but keeps the skips, and its smooth and
efficient MPRT variants (Hedström et al. 2024) are issue 36's.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from .captum_ready import clone_classifier

#: The methods whose cascade 02 repeats without skips: the gradient and layer methods (one or few backward passes;
#: the perturbation methods would double the cascade's time, and Guided Backprop hooks the ReLU modules the cut
#: blocks replace by functional ones).
CUT_METHODS = ("saliency", "input_x_gradient", "integrated_gradients", "grad_cam")


def residual_blocks(model: nn.Module) -> list[nn.Module]:
    """torchvision's residual blocks (ResNet, ResNeXt, Wide ResNet) inside ``model``."""
    from torchvision.models.resnet import BasicBlock, Bottleneck

    return [m for m in model.modules() if isinstance(m, (BasicBlock, Bottleneck))]


def _branch_only(block: nn.Module, args, output):
    """A forward hook that replaces a block's output by ReLU of its residual branch alone. The branch is computed
    again from the block's current modules (a copy may have folded its batch norms into identities) with
    functional ReLUs (the block's own ReLU module counts its calls: make_captum_ready splits it per call)."""
    from torchvision.models.resnet import Bottleneck

    x = args[0]
    out = F.relu(block.bn1(block.conv1(x)))
    out = block.bn2(block.conv2(out))
    if isinstance(block, Bottleneck):
        out = block.bn3(block.conv3(F.relu(out)))
    return F.relu(out)


def without_skips(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose residual blocks output their residual branch alone; a clear error without any."""
    copy = clone_classifier(model).eval()
    blocks = residual_blocks(copy)
    if not blocks:
        raise ValueError(f"{type(model).__name__} has no residual blocks (torchvision BasicBlock or Bottleneck) whose "
                         "skip connections could be cut")
    for block in blocks:
        block.register_forward_hook(_branch_only)
    return copy
