"""Vision transformers seen as feature maps. A ViT's encoder blocks return tokens (N, 1 + h·w, D): a class token
and one token per image patch; a Swin stage returns a channels-last grid (N, h, w, C). Grad-CAM, channel
attributions, attenuation and TCAV read a (N, C, h, w) feature map, so each block gets a :class:`TokenGrid` that
passes its output through such a view (:class:`TokenMap`, an identity whose output is hooked like a CNN's ReLU)
and back: the function the network computes and its state dict do not change. This is the reshape
pytorch-grad-cam asks its users to write for these models (its ``reshape_transform``), done once, here.

A ViT's last block gets no patch view: only its class token reaches the head, so its patch tokens have zero
gradient and Grad-CAM on them would be blank (pytorch-grad-cam's advice for ViT is the last block's input, i.e.
the block before it). Every ViT block's class token passes a :class:`ClassToken` view too: TCAV reads concepts in
the class token, the summary the head classifies (the last block's) and the earlier blocks' ones."""
from __future__ import annotations

import torch
from torch import nn

#: How a block's tokens are laid out: a class token then the patches in row order (ViT), or channels last (Swin).
LAYOUTS = ("class+patches", "channels-last")


class TokenMap(nn.Identity):
    """The (N, C, h, w) view of a transformer block's tokens: the module a feature map is hooked at."""


class ClassToken(nn.Identity):
    """The (N, 1, D) class token of a ViT block's output: the module TCAV's activations are hooked at."""


class TokenGrid(nn.Module):
    """A block's tokens through a :class:`TokenMap` and back, unchanged."""

    def __init__(self, layout: str, grid: tuple[int, int] | None = None, patches: bool = True):
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f"layout = {layout!r} is not allowed: expected one of {', '.join(LAYOUTS)}")
        if layout == "class+patches" and grid is None:
            raise ValueError("a class-token layout needs the patch grid (h, w)")
        self.layout, self.grid, self.patches = layout, grid, patches
        if patches:
            self.map = TokenMap()
        if layout == "class+patches":
            self.cls = ClassToken()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.layout == "channels-last":
            return self.map(tokens.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        (h, w), (n, t, d) = self.grid, tokens.shape
        if t != 1 + h * w:
            raise ValueError(f"expected 1 + {h}·{w} tokens, got {t}")
        rest = tokens[:, 1:]
        if self.patches:
            rest = self.map(rest.transpose(1, 2).reshape(n, d, h, w)).flatten(2).transpose(1, 2)
        return torch.cat([self.cls(tokens[:, :1]), rest], 1)


def _through_grid(block: nn.Module, args, output):  # a forward hook's return value replaces the output
    return block.token_grid(output)


def transformer_blocks(net: nn.Module) -> tuple[list[nn.Module], str, tuple[int, int] | None]:
    """The blocks of a torchvision ViT (every one) or Swin (each stage's last) whose outputs get views, their layout
    and grid; no blocks for any other network."""
    from torchvision.models import SwinTransformer, VisionTransformer
    from torchvision.models.swin_transformer import SwinTransformerBlock, SwinTransformerBlockV2

    if isinstance(net, VisionTransformer):
        side = net.image_size // net.patch_size
        return list(net.encoder.layers), "class+patches", (side, side)
    if isinstance(net, SwinTransformer):  # each stage's last block (a stage is a Sequential: a child would be run)
        stages = [m for m in net.features if isinstance(m, nn.Sequential) and len(m)
                  and isinstance(m[0], (SwinTransformerBlock, SwinTransformerBlockV2))]
        return [stage[-1] for stage in stages], "channels-last", None
    return [], "", None


def attach_token_grids(net: nn.Module) -> int:
    """Give every feature-map block of a torchvision ViT or Swin its :class:`TokenGrid` (once); returns how many
    blocks have one."""
    blocks, layout, grid = transformer_blocks(net)
    for i, block in enumerate(blocks):
        if not isinstance(getattr(block, "token_grid", None), TokenGrid):
            # A ViT's last block: its class token only (its patch tokens never reach the head).
            patches = layout != "class+patches" or i < len(blocks) - 1
            block.token_grid = TokenGrid(layout, grid, patches)
            block.register_forward_hook(_through_grid)
    return len(blocks)


def has_token_maps(model: nn.Module) -> bool:
    return any(isinstance(m, TokenMap) for m in model.modules())


def class_tokens(model: nn.Module, prefix: str = "") -> list[str]:
    """The names (without ``prefix``) of a ViT's :class:`ClassToken` views, block by block; empty for others."""
    return [n.removeprefix(prefix) for n, m in model.named_modules() if isinstance(m, ClassToken)]
