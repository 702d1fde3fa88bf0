"""Which layers of a classifier Grad-CAM, channel attributions, TCAV and feature attenuation look at.

Found by running one image through the model and watching every module's output, so it works for any
architecture built from modules (torchvision's ResNets, MobileNets, VGGs, the study's CNNs, a user's own):

- a *feature map* is the output of an activation module that runs after a convolution, four-dimensional;
  several modules may return the very same tensor (a ReLU, the residual block ending in it, the stage ending in
  that block): the outermost one names it (``layer2`` rather than ``layer2.1.relu``);
- **Grad-CAM** (and attenuation) take the deepest feature map that is still at least :data:`MIN_CAM_SIDE` ×
  :data:`MIN_CAM_SIDE`: a ResNet-18 at 64 px ends in a 2×2 map, where a Grad-CAM cannot point at anything
  (Selvaraju et al. use the last 14×14 map of VGG-16 at 224 px);
- **channel attributions** and **TCAV** take the first feature map, the Grad-CAM one and the deepest one (fewer when
  they coincide): low-level, the resolution explanations are read at, and the most abstract.

A model that declares ``cam_layer`` (the study's attention CNN must: its attention module has a ReLU after a
convolution too) keeps it. Every choice can be overridden by name, and :func:`layer_table` says what was chosen
and how large each map is.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from .captum_ready import ACTIVATIONS, ImageClassifier
from .exported_programs import is_convolution
from .token_maps import TokenMap, class_tokens, has_token_maps

#: The smallest feature map (side in cells) that Grad-CAM may use when the model offers a larger one.
MIN_CAM_SIDE = 7


@dataclass(frozen=True)
class FeatureMap:
    name: str  # the outermost module returning this tensor
    channels: int
    height: int
    width: int
    order: int  # position in the forward pass (0 = first feature map)

    @property
    def side(self) -> int:
        return min(self.height, self.width)


def feature_maps(model: nn.Module, image_shape: tuple[int, int, int]) -> list[FeatureMap]:
    """The model's feature maps for one input of ``image_shape`` (C, H, W), in forward order."""
    records: list[tuple[str, nn.Module, torch.Tensor]] = []
    handles = [m.register_forward_hook(lambda mod, i, o, name=name: records.append((name, mod, o)))
               for name, m in model.named_modules() if name]
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            model(torch.rand(1, *image_shape, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    maps: list[FeatureMap] = []
    # A vision transformer's feature maps are its blocks' token views (token_maps.py): its other 4-D outputs are
    # channels-last grids (Swin) that would be read with the wrong axes.
    kinds = (TokenMap,) if has_token_maps(model) else ACTIVATIONS
    seen_conv = False
    index_of: dict[int, int] = {}  # id of an output tensor -> its index in maps
    for name, module, out in records:  # in the order the modules finished: children before their parents
        if is_convolution(module):  # a Conv2d, or a torch.export program's convolution (exported_programs.py)
            seen_conv = True
            continue
        if not isinstance(out, torch.Tensor) or out.ndim != 4:
            continue
        k = index_of.get(id(out))
        if k is not None:
            if maps[k].name.startswith(name + "."):  # an enclosing module returning the same tensor names it
                m = maps[k]
                maps[k] = FeatureMap(name, m.channels, m.height, m.width, m.order)
            continue
        if seen_conv and isinstance(module, kinds):
            index_of[id(out)] = len(maps)
            _, c, h, w = out.shape
            maps.append(FeatureMap(name, c, h, w, len(maps)))
    # ``records`` keeps every output alive until here, so no two outputs shared an id.
    return maps


def _declared_cam(model: nn.Module) -> str | None:
    """The name of the module the model declares as ``cam_layer``, if it does."""
    declared = getattr(type(model), "cam_layer", None)
    if not isinstance(declared, property):
        return None
    try:
        module = model.cam_layer
    except AttributeError:
        return None
    return next((n for n, m in model.named_modules() if m is module and n), None)


def gradcam_map(maps: list[FeatureMap], min_side: int = MIN_CAM_SIDE) -> FeatureMap:
    """The deepest feature map at least ``min_side`` on its shorter side; the largest one (the deepest of equal
    size) when none is that large."""
    if not maps:
        raise ValueError("the model has no feature map (an activation after a convolution, shaped N×C×H×W); "
                         "name a layer with gradcam_layer")
    large = [m for m in maps if m.side >= min_side]
    if large:
        return large[-1]
    biggest = max(m.side for m in maps)
    return [m for m in maps if m.side == biggest][-1]


@dataclass(frozen=True)
class LayerChoice:
    """The layers chosen for one model: names as ``named_modules`` gives them, with the maps' sizes."""

    gradcam: str
    cam_map: FeatureMap
    channels: tuple[str, ...]
    tcav: tuple[str, ...]
    maps: tuple[FeatureMap, ...]
    detected: bool  # False where a name was given or the model declared its cam_layer
    prefix: str = ""  # what the names lack to be names of the explained model's named_modules ("net.")

    def table(self) -> pd.DataFrame:
        return layer_table(self)

    def module(self, model: nn.Module, name: str) -> nn.Module:
        """The module ``name`` (as chosen here) of ``model``."""
        return model.get_submodule(self.prefix + name)

    def qualified(self, names) -> list[str]:
        """``names`` as names of the explained model's ``named_modules`` (for TCAV)."""
        return [self.prefix + n for n in names]


def choose_layers(model: nn.Module, image_shape: tuple[int, int, int], gradcam_layer: str = "",
                  tcav_layers=None, min_side: int = MIN_CAM_SIDE) -> LayerChoice:
    """Grad-CAM, channel and TCAV layers of ``model`` for inputs of ``image_shape``; names given win.

    A given name must be a module of the model; its output must be a 4-D feature map for Grad-CAM."""
    # An ImageClassifier's modules are its net's, under "net.": names given and shown are the net's own.
    prefix = "net." if isinstance(model, ImageClassifier) else ""
    maps = [FeatureMap(m.name.removeprefix(prefix), m.channels, m.height, m.width, m.order)
            for m in feature_maps(model, image_shape)]
    modules = {n.removeprefix(prefix): m for n, m in model.named_modules() if n.startswith(prefix)}
    by_name = {m.name: m for m in maps}
    for role, names in (("gradcam_layer", [gradcam_layer] if gradcam_layer else []), ("tcav_layers", tcav_layers or [])):
        for name in names:
            if name not in modules or not name:
                close = [n for n in modules if n and n.split(".")[-1] == str(name).split(".")[-1]][:5]
                raise ValueError(f"{role}: {type(model).__name__} has no module named {name!r}"
                                 + (f"; modules with that last part: {', '.join(close)}" if close else "")
                                 + f"; feature maps: {', '.join(m.name for m in maps) or 'none'}")
    declared = None if prefix else _declared_cam(model)
    if gradcam_layer:
        shape = _output_shape(model, prefix + gradcam_layer, image_shape)
        if len(shape) != 4:
            raise ValueError(f"gradcam_layer {gradcam_layer!r} outputs shape {shape}, not a feature map (N, C, H, W)")
        cam = by_name.get(gradcam_layer) or FeatureMap(gradcam_layer, shape[1], shape[2], shape[3], -1)
    elif declared:
        cam = by_name.get(declared) or FeatureMap(declared, *_output_shape(model, declared, image_shape)[1:], -1)
    else:
        cam = gradcam_map(maps, min_side)
    picks = [maps[0].name, cam.name, maps[-1].name] if maps else [cam.name]
    default = tuple(dict.fromkeys(picks))  # in order, without repeats
    tcav = tuple(tcav_layers) if tcav_layers else (_class_token_picks(model, prefix) or default)
    return LayerChoice(gradcam=cam.name, cam_map=cam, channels=default, tcav=tcav, maps=tuple(maps), prefix=prefix,
                       detected=not (gradcam_layer or declared or tcav_layers))


def _class_token_picks(model: nn.Module, prefix: str) -> tuple[str, ...]:
    """A ViT's TCAV layers: its class token after the first, the middle and the last block (the last is what the
    head classifies); empty for a model without class tokens."""
    tokens = class_tokens(model, prefix)
    return tuple(dict.fromkeys([tokens[0], tokens[len(tokens) // 2], tokens[-1]])) if tokens else ()


def _output_shape(model: nn.Module, name: str, image_shape) -> tuple[int, ...]:
    out = {}

    def record(module, inputs, output):  # returns None: a forward hook's return value replaces the output
        out["shape"] = tuple(output.shape) if isinstance(output, torch.Tensor) else ()

    handle = model.get_submodule(name).register_forward_hook(record)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.rand(1, *image_shape, device=next(model.parameters()).device))
    finally:
        handle.remove()
        model.train(was_training)
    return out.get("shape", ())


def layer_table(choice: LayerChoice) -> pd.DataFrame:
    """One row per feature map (and per chosen layer outside them): its size and what it is used for."""
    rows = {m.name: {"channels": m.channels, "height": m.height, "width": m.width}
            for m in (*choice.maps, choice.cam_map)}
    for name in (choice.gradcam, *choice.channels, *choice.tcav):
        rows.setdefault(name, {"channels": None, "height": None, "width": None})
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "layer"
    table["used_for"] = [", ".join(role for role, names in (("Grad-CAM, attenuation", (choice.gradcam,)),
                                                           ("channels", choice.channels), ("TCAV", choice.tcav))
                                   if name in names) for name in table.index]
    return table
