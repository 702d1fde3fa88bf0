"""Attention rollout (Abnar & Zuidema 2020) for torchvision's vision transformers.

Each block mixes tokens by its attention A_l (averaged over heads) and keeps them by its residual connection, so
the block's token mixing is modelled as Ã_l = ½·A_l + ½·I (rows renormalised) and the mixing of the whole network
as the product R = Ã_L ⋯ Ã_1. A ViT's map is the class token's row of R over the patch tokens; the MLPs are not
modelled, and the map is the same for every class (the method explains where the network looks, not why it chose
a class: the randomisation cascade's top layers leave it unchanged, which 02's sanity check shows).

Swin attends within (shifted) windows and merges 2×2 tokens between stages: its A_l is the window attention laid
back on the whole grid (zero between windows; attention to padding tokens dropped before the rows are
renormalised), a merge is the 4→1 averaging of the tokens it concatenates, and the map is the mean row of R over
the last stage's tokens (Swin's head averages them). Abnar & Zuidema defined rollout for global attention; this
is the same product on Swin's token mixing, not a published variant. Written here because captum, zennit and
pytorch-grad-cam have no rollout for torchvision's Swin (pytorch-grad-cam's ViT rollout needs timm's models).
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

#: The weight of the identity in each block's mixing (Abnar & Zuidema: the residual connection, ½).
RESIDUAL_WEIGHT = 0.5


def transformer_of(model: nn.Module) -> nn.Module:
    """The torchvision ViT or Swin inside ``model``; a clear error for any other network."""
    from torchvision.models import SwinTransformer, VisionTransformer

    found = next((m for m in model.modules() if isinstance(m, (VisionTransformer, SwinTransformer))), None)
    if found is None:
        raise ValueError(f"attention rollout needs a vision transformer's attention (torchvision ViT or Swin); "
                         f"{type(model).__name__} has none")
    return found


def has_attention(model: nn.Module) -> bool:
    try:
        transformer_of(model)
    except ValueError:
        return False
    return True


def mixing(attention: torch.Tensor, residual: float = RESIDUAL_WEIGHT) -> torch.Tensor:
    """(1 − r)·A + r·I with rows summing to 1: one block's token mixing, (N, T, T)."""
    eye = torch.eye(attention.shape[-1], dtype=attention.dtype, device=attention.device)
    mixed = (1 - residual) * attention + residual * eye
    return mixed / mixed.sum(-1, keepdim=True)


def mha_weights(mha: nn.MultiheadAttention, x: torch.Tensor) -> torch.Tensor:
    """The self-attention weights of ``mha`` on tokens ``x`` (N, T, D), averaged over heads: (N, T, T)."""
    e, h = mha.embed_dim, mha.num_heads
    w, b = mha.in_proj_weight, mha.in_proj_bias
    n, t, _ = x.shape
    q = F.linear(x, w[:e], None if b is None else b[:e]).view(n, t, h, e // h).transpose(1, 2)
    k = F.linear(x, w[e:2 * e], None if b is None else b[e:2 * e]).view(n, t, h, e // h).transpose(1, 2)
    return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(e // h), -1).mean(1)


@torch.no_grad()
def vit_attentions(vit: nn.Module, run) -> list[torch.Tensor]:
    """Every encoder block's attention weights (N, T, T) in one forward pass ``run()`` of the model holding ``vit``."""
    inputs = []
    handles = [block.self_attention.register_forward_pre_hook(lambda m, args: inputs.append((m, args[0])))
               for block in vit.encoder.layers]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return [mha_weights(m, x) for m, x in inputs]


def vit_rollout(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N, 1, g, g): the class token's rolled-out attention to each patch."""
    vit = transformer_of(model)
    attentions = vit_attentions(vit, lambda: model(x))
    rolled = torch.eye(attentions[0].shape[-1], dtype=x.dtype, device=x.device).expand_as(attentions[0])
    for a in attentions:
        rolled = mixing(a) @ rolled
    side = vit.image_size // vit.patch_size
    return rolled[:, 0, 1:].reshape(len(x), 1, side, side)


class _SoftmaxTap:
    """torch.nn.functional as torchvision's Swin module sees it, keeping the attention probabilities that this
    thread's softmax computes (torchvision returns none: its shifted-window attention is one function)."""

    def __init__(self, functional, events: list):
        self._functional, self._events, self._thread = functional, events, threading.get_ident()

    def __getattr__(self, name):
        return getattr(self._functional, name)

    def softmax(self, *args, **kwargs):
        out = self._functional.softmax(*args, **kwargs)
        if threading.get_ident() == self._thread and self._events and self._events[-1]["kind"] == "attention":
            self._events[-1]["probs"] = out
        return out


_TAP_LOCK = threading.Lock()


@contextmanager
def _swin_events(swin: nn.Module):
    """Record, in forward order, each window attention (its input grid, window, shift and probabilities) and
    each patch merging (its input grid) of ``swin``."""
    from torchvision.models import swin_transformer as st

    events: list[dict] = []

    def attention(m, args):
        events.append({"kind": "attention", "grid": tuple(args[0].shape[1:3]), "window": list(m.window_size),
                       "shift": list(m.shift_size)})

    def merge(m, args):
        events.append({"kind": "merge", "grid": tuple(args[0].shape[1:3])})

    handles = [m.register_forward_pre_hook(attention) for m in swin.modules() if isinstance(m, st.ShiftedWindowAttention)]
    handles += [m.register_forward_pre_hook(merge) for m in swin.modules() if isinstance(m, st.PatchMerging)]
    with _TAP_LOCK:
        functional, st.F = st.F, _SoftmaxTap(st.F, events)
        try:
            yield events
        finally:
            st.F = functional
            for h in handles:
                h.remove()


def window_attention_matrix(probs: torch.Tensor, grid: tuple[int, int], window, shift) -> torch.Tensor:
    """Swin's window attention ``probs`` (N·windows, heads, S, S), averaged over heads and laid back on the
    (h·w)×(h·w) token grid in row order, undoing torchvision's padding and cyclic shift: (N, h·w, h·w)."""
    (h, w), (wh, ww) = grid, window
    pad_h, pad_w = h + (wh - h % wh) % wh, w + (ww - w % ww) % ww
    s0 = 0 if wh >= pad_h else shift[0]  # torchvision does not shift a window as large as the grid
    s1 = 0 if ww >= pad_w else shift[1]
    nh, nw = pad_h // wh, pad_w // ww
    rows = (torch.arange(nh)[:, None, None, None] * wh + torch.arange(wh)[None, None, :, None] + s0) % pad_h
    cols = (torch.arange(nw)[None, :, None, None] * ww + torch.arange(ww)[None, None, None, :] + s1) % pad_w
    index = (rows * pad_w + cols).reshape(nh * nw, wh * ww)  # window-major, row order inside: torchvision's
    n = probs.shape[0] // (nh * nw)
    full = probs.new_zeros(n, pad_h * pad_w, pad_h * pad_w)
    full[:, index[:, :, None], index[:, None, :]] = probs.mean(1).view(n, nh * nw, wh * ww, wh * ww)
    flat = torch.arange(pad_h * pad_w)
    real = flat[(flat // pad_w < h) & (flat % pad_w < w)]
    return full[:, real][:, :, real]


def merge_matrix(grid: tuple[int, int], dtype=torch.float32) -> torch.Tensor:
    """Swin's patch merging as token mixing: each merged token the mean of the (up to) four it concatenates."""
    h, w = grid
    h2, w2 = (h + 1) // 2, (w + 1) // 2
    m = torch.zeros(h2 * w2, h * w, dtype=dtype)
    for i in range(h2):
        for j in range(w2):
            sources = [(2 * i + di) * w + 2 * j + dj for di in (0, 1) for dj in (0, 1) if 2 * i + di < h and 2 * j + dj < w]
            m[i * w2 + j, sources] = 1 / len(sources)
    return m


def swin_rollout(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N, 1, h, w) on the patch grid: the mean rolled-out mixing of the last stage's tokens."""
    swin = transformer_of(model)
    with torch.no_grad(), _swin_events(swin) as events:
        model(x)
    rolled = None
    for event in events:
        if event["kind"] == "attention":
            step = mixing(window_attention_matrix(event["probs"], event["grid"], event["window"], event["shift"]))
        else:
            step = merge_matrix(event["grid"], x.dtype).to(x.device).expand(len(x), -1, -1)
        rolled = step if rolled is None else step @ rolled
    h, w = events[0]["grid"]
    return rolled.mean(1).reshape(len(x), 1, h, w)


def attention_rollout(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The rolled-out attention map of ``model``'s ViT or Swin on the patch grid, (N, 1, h, w)."""
    from torchvision.models import VisionTransformer

    return (vit_rollout if isinstance(transformer_of(model), VisionTransformer) else swin_rollout)(model, x)
