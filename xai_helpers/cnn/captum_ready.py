"""A classifier from outside the study made fit for captum, behind the study's calling convention.

The study's own CNNs are built for captum (see :mod:`.models`): every nonlinearity is its own module, used once,
and nothing is in place. A torchvision or user model usually is not: a ResNet block calls one ``ReLU(inplace=True)``
twice. captum's DeepLift keeps a module's last input and output *on the module*, so a module called twice sees
only its second call (wrong multipliers, no error), and backward hooks (Guided Backprop, Deconvolution, LRP) raise
on outputs that an in-place operation modified. :func:`make_captum_ready` fixes both without touching the model's
code or its state dict: in-place flags are switched off, and an activation module called *k* times in one forward
pass becomes a :class:`PerCallActivations` holding *k* copies, the *i*-th call going to the *i*-th copy. Module
names and the state dict's keys stay those of the original model, so a user's layer names still work.

:class:`ImageClassifier` is what the study explains: images in [0, 1] go in (the study's convention for every
model), the normalisation the model expects and, for a 3-channel model on grayscale images, the repetition of the
gray channel happen inside, so attributions are with respect to the images a reader sees. It carries the layers
that Grad-CAM, channel attributions, TCAV and attenuation use (:mod:`.layer_detection` picks them).
"""
from __future__ import annotations

import copy
from collections import Counter

import torch
from torch import nn

from .token_maps import attach_token_grids

#: Activation modules that DeepLift, LRP, Guided Backprop or Deconvolution hook (or would, if captum knew them):
#: they must be called once per forward pass each.
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish,
               nn.Hardsigmoid, nn.Hardtanh, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.PReLU)


#: Image side from which a supplied model computes on channels-last tensors (faster convolutions on CPUs).
CHANNELS_LAST_MIN_SIDE = 96


class PerCallActivations(nn.Module):
    """One activation module that its model calls several times per forward pass, split into one copy per call.

    The copies are called in turn; the counter restarts at every forward pass of the model
    (:func:`make_captum_ready` registers the reset). A parametrised activation (PReLU) is shared, not copied.
    """

    def __init__(self, module: nn.Module, calls: int):
        super().__init__()
        if any(True for _ in module.parameters()):
            raise ValueError(f"{type(module).__name__} has parameters; only parameter-free activations are split")
        self.calls = nn.ModuleList(copy.deepcopy(module) for _ in range(calls))
        self.position = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        module = self.calls[self.position % len(self.calls)]
        self.position += 1
        return module(x)

    def reset(self) -> None:
        self.position = 0


def _reset_calls(model: nn.Module, _inputs) -> None:
    for module in model.modules():
        if isinstance(module, PerCallActivations):
            module.reset()


def call_counts(model: nn.Module, example: torch.Tensor) -> Counter:
    """How often each module (by name) is called in one forward pass of ``example``."""
    counts: Counter = Counter()
    handles = [m.register_forward_hook(lambda mod, i, o, name=name: counts.update([name]))
               for name, m in model.named_modules() if name]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
    return counts


def make_captum_ready(model: nn.Module, example: torch.Tensor) -> list[str]:
    """Switch off in-place operations, split activations that ``model`` calls more than once per forward pass
    (found by running ``example``) and give a vision transformer's blocks feature-map views; in place. Returns the names of the split modules. The function the model
    computes and its state dict's keys do not change."""
    for module in model.modules():
        if getattr(module, "inplace", False) is True:
            module.inplace = False
    counts = call_counts(model, example)
    split = []
    for name, module in list(model.named_modules()):
        if isinstance(module, ACTIVATIONS) and counts.get(name, 0) > 1 and not any(True for _ in module.parameters()):
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, attr, PerCallActivations(module, counts[name]))
            split.append(name)
    if split and not getattr(model, "_per_call_reset", False):
        model.register_forward_pre_hook(_reset_calls)
        model._per_call_reset = True
    attach_token_grids(model)  # a vision transformer's blocks as feature maps (token_maps.py)
    return split


class ImageClassifier(nn.Module):
    """``net`` taking images in [0, 1]: normalised with ``mean``/``std`` (when given) and, for a 3-channel ``net``
    on 1-channel images, with the gray channel repeated, inside the forward pass.

    ``layers`` maps roles to module names *relative to net* (``gradcam`` for Grad-CAM and attenuation,
    ``channels`` and ``tcav`` for lists): :func:`.layer_detection.choose_layers` fills it.
    ``cam_layer`` is the module Grad-CAM hooks (the study's explain() asks every model for it).
    ``outputs`` picks, in class order, the logits of a model with other outputs (a class map: 10 classes of 1000).
    """

    def __init__(self, net: nn.Module, *, in_channels: int, net_channels: int, mean=None, std=None,
                 layers: dict | None = None, description: str = "", hookable: bool = True, outputs=None,
                 untyped: tuple[str, ...] | None = None):
        super().__init__()
        if net_channels not in (in_channels, 3) or (net_channels == 3 and in_channels not in (1, 3)):
            raise ValueError(f"a model taking {net_channels} channels cannot read {in_channels}-channel images")
        self.net = net
        self.in_channels, self.net_channels = in_channels, net_channels
        if (mean is None) != (std is None):
            raise ValueError("give both the mean and the std of the model's input normalisation, or neither")
        if mean is not None:
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        else:
            self.mean = self.std = None
        self.layers = dict(layers or {})
        self.description = description
        #: False for a TorchScript net: PyTorch refuses forward hooks on it, so no layer can be read or changed.
        self.hookable = hookable
        #: None for a model whose layers have their types; for a torch.export program (exported_programs.py), where
        #: its nonlinearities are calls inside a module's graph rather than typed modules (maybe none).
        self.untyped = untyped
        self.channels_last = False
        if outputs is not None:
            self.register_buffer("outputs", torch.tensor(list(outputs), dtype=torch.long))
        else:
            self.outputs = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.net_channels != self.in_channels:  # gray images read by an RGB model
            x = x.expand(-1, self.net_channels, -1, -1)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        if self.channels_last:  # see use_channels_last
            x = x.contiguous(memory_format=torch.channels_last)
        logits = self.net(x)
        return logits if self.outputs is None else logits.index_select(1, self.outputs)

    def use_channels_last(self, image_side: int) -> None:
        """From :data:`CHANNELS_LAST_MIN_SIDE` px on, keep the weights and feed the images channels-last: oneDNN's
        convolutions are faster so (ResNet-18 at 224 px on 2 cores: 16.5 instead of 13.7 Saliency maps/s). The
        values agree up to float rounding; gradients with respect to the images come back in their own layout."""
        self.channels_last = image_side >= CHANNELS_LAST_MIN_SIDE and not isinstance(self.net, torch.jit.ScriptModule)
        if self.channels_last:
            self.net.to(memory_format=torch.channels_last)

    def layer(self, name: str) -> nn.Module:
        """The module ``name`` of the wrapped model (as the user names it, without ``net.``)."""
        return self.net.get_submodule(name)

    @property
    def cam_layer(self) -> nn.Module:
        if not self.hookable:
            raise LookupError(f"{self.description or 'this model'} is TorchScript: its layers cannot be hooked")
        if "gradcam" not in self.layers:
            # Not AttributeError: nn.Module would swallow it and report a missing attribute instead.
            raise LookupError("no Grad-CAM layer chosen yet (xai_helpers.cnn.layer_detection.choose_layers)")
        return self.layer(self.layers["gradcam"])


def clone_classifier(model: nn.Module) -> nn.Module:
    """An independent copy of ``model`` that can be trained. ``copy.deepcopy`` of a TorchScript module returns
    parameters that are not leaves (an optimiser refuses them), so a TorchScript net is copied by saving and loading."""
    if isinstance(model, ImageClassifier) and isinstance(model.net, torch.jit.ScriptModule):
        import io
        import warnings

        buffer = io.BytesIO()
        with warnings.catch_warnings():  # torch.jit is deprecated for new models; the user's file is TorchScript
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit")
            torch.jit.save(model.net, buffer)
            buffer.seek(0)
            net = torch.jit.load(buffer, map_location="cpu")
        mean = None if model.mean is None else model.mean.flatten().tolist()
        std = None if model.std is None else model.std.flatten().tolist()
        return ImageClassifier(net, in_channels=model.in_channels, net_channels=model.net_channels, mean=mean,
                               std=std, layers=model.layers, description=model.description, hookable=model.hookable,
                               untyped=model.untyped,
                               outputs=None if model.outputs is None else model.outputs.tolist())
    return copy.deepcopy(model)
