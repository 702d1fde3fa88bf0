"""Instance-level attribution: one call, ``explain(model, images, targets, method, **options)``, over a registry.

Every method returns attributions with the input's shape (N, C, H, W); layer methods (Grad-CAM) are
upsampled to the input size and repeated over channels. Each registry entry is a small function
``(model, x, target, **options) -> tensor``; adding a method is adding one entry with
:func:`register`. captum does the work everywhere; the entries only choose layers, baselines and masks.

``heatmap(attributions, method)`` turns attributions into one non-negative (N, H, W) map per image: the
absolute value summed over channels (Grad-CAM maps are already ReLU'd and non-negative).

Randomness: SmoothGrad, GradientSHAP, LIME and KernelSHAP sample. captum draws from torch's global generator
and, for GradientSHAP's path coefficients, from numpy's *global* generator (``np.random.uniform``), so seeding
torch alone does not make GradientSHAP repeatable. :func:`explain` therefore seeds both global generators from
its ``seed`` around every batch and restores their previous states afterwards.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from captum.attr import (DeepLift, Deconvolution, FeatureAblation, GradientShap, GuidedBackprop, GuidedGradCam,
                         InputXGradient, IntegratedGradients, KernelShap, LayerAttribution, LayerGradCam, Lime,
                         NoiseTunnel, Occlusion, Saliency)
from torch import nn

from ..study import with_global_rng_restored
from .attention_rollout import attention_rollout, has_attention
from .batch_norm_folding import folded_for_explaining
from .exported_programs import untyped_reason
from .relevance import lrp
from .substrates import substrate
from .superpixels import slic_masks


@dataclass(frozen=True)
class Method:
    name: str
    title: str  # for figures and tables
    fn: Callable[..., torch.Tensor]
    reference: str  # the paper behind it
    #: "gradient" (one or few backward passes), "path" (many), "perturbation" (forward passes only), "layer",
    #: "attention" (a transformer's attention weights, one forward pass)
    family: str
    #: True where captum hooks modules (DeepLift, LRP, Guided Backprop, layer methods): impossible on TorchScript.
    hooks: bool = False
    #: What the model must have for the method to mean anything ("attention": a vision transformer); None: any model.
    needs: str | None = None
    #: What the method's rules are chosen by, which a torch.export program may lack (exported_programs.py):
    #: "nonlinearities" (every nonlinearity a typed module: DeepLift, Guided Backprop, Deconvolution), "layers"
    #: (every layer's type: LRP); None: nothing.
    rules: str | None = None


METHODS: dict[str, Method] = {}


#: The most pixels (images × height × width) that one pass of an explanation carries. Past it a larger batch
#: only costs (memory, cache misses): a ResNet-18 at 224 px on 2 cores gives Saliency maps at 19.2 images/s in
#: batches of 8 and 17.1 in batches of 64, and Integrated Gradients (32 steps) 0.59 images/s with 8 path points
#: per pass and 0.40 with 256; at 64 px, batches of 16 to 64 are alike. 2¹⁹ pixels: 8 images of 224 × 224,
#: 128 of 64 × 64, 512 of 32 × 32 (so nothing changes at the study's own sizes).
PIXELS_PER_PASS = 2 ** 19
#: The same for passes without a backward pass (perturbation methods, deletion curves, ROAD, predictions). What
#: matters is that a pass's activations fit the processor's caches: on a 2-core AMD EPYC (2026-12-07, medians of
#: three) the study's CNN at 28 px predicts 10,050 images/s in batches of 128, 9,590 in 256 and 3,690 in 1,024; a
#: ResNet-18 at 64 px 600/s in batches of 32 or 64, 505 in 256; at 224 px 44/s in batches of 4, 38 in 16 (a
#: 2-core Intel Xeon gave 47-48 in 8 or 16, 34 in 128). 2¹⁸ pixels: 4 images of 224 px, 64 of 64 px, 256 of 32
#: or 28 px. Gradient passes hardly depend on the batch (3,600 maps/s at 28 px in batches of 64 to 512).
FORWARD_PIXELS_PER_PASS = 2 ** 18


def images_per_pass(image_shape, most: int, pixels: int = PIXELS_PER_PASS) -> int:
    """How many images of ``image_shape`` (…, H, W) one pass takes: ``most``, or fewer when they would carry more
    than ``pixels`` pixels (a power of two, at least 1): :data:`PIXELS_PER_PASS` for passes with a backward pass,
    :data:`FORWARD_PIXELS_PER_PASS` for forward passes alone."""
    fit = int(pixels) // (int(image_shape[-2]) * int(image_shape[-1]))
    return max(1, min(int(most), 1 << (fit.bit_length() - 1) if fit else 1))


def register(name: str, title: str, reference: str, family: str, hooks: bool = False, needs: str | None = None,
             rules: str | None = None):
    """Decorator: add ``fn(model, x, target, **options)`` to :data:`METHODS` under ``name``."""
    def wrap(fn):
        if name in METHODS:
            raise ValueError(f"attribution method {name!r} is already registered")
        METHODS[name] = Method(name, title, fn, reference, family, hooks, needs, rules)
        return fn
    return wrap


def last_conv_activation(model: nn.Module) -> nn.Module:
    """The module whose output is the last convolutional feature map: the model's ``cam_layer`` if it names
    one (the attention CNN must, or its attention module's own ReLU would be taken), else the last ReLU that
    follows a Conv2d before the first Linear."""
    if isinstance(getattr(model, "cam_layer", None), nn.Module):
        return model.cam_layer
    last = None
    seen_conv = False
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            seen_conv = True
        if seen_conv and isinstance(module, nn.ReLU):
            last = module
        if isinstance(module, nn.Linear):
            break
    if last is None:
        raise ValueError(f"{type(model).__name__} has no ReLU after a Conv2d: pass layer= explicitly")
    return last


def grid_feature_mask(shape, cell: int = 4) -> torch.Tensor:
    """A (1, C, H, W) mask of square ``cell``×``cell`` superpixels, shared by all channels (for LIME/KernelSHAP)."""
    _, c, h, w = shape
    rows, cols = torch.arange(h) // cell, torch.arange(w) // cell
    mask = rows[:, None] * ((w + cell - 1) // cell) + cols[None, :]
    return mask.expand(1, c, h, w).contiguous()


def _upsample(cam: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A coarse (already ReLU'd) map bilinearly upsampled to ``x``'s size and repeated over its channels."""
    cam = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), "bilinear")
    return cam.expand(-1, x.shape[1], -1, -1).contiguous()


@register("saliency", "Saliency", "Simonyan et al. 2014", "gradient")
def _saliency(model, x, target):
    return Saliency(model).attribute(x, target=target, abs=True)


@register("input_x_gradient", "Input × Gradient", "Shrikumar et al. 2016", "gradient")
def _input_x_gradient(model, x, target):
    return InputXGradient(model).attribute(x, target=target)


#: Named baselines of Integrated Gradients (a number is a constant image of that value).
IG_BASELINES = {"black": "zero", "blur": "blur", "noise": "noise"}


def baseline_image(x: torch.Tensor, baseline: float | str) -> torch.Tensor:
    """The reference image(s) a path method starts from: a constant value, or ``black``, ``blur`` (the image
    Gaussian-blurred, σ = 3 px) or ``noise`` (uniform noise from torch's global generator, which
    :func:`explain` seeds)."""
    if isinstance(baseline, str):
        if baseline not in IG_BASELINES:
            raise ValueError(f"baseline {baseline!r} is not allowed: expected a number or one of "
                             f"{', '.join(IG_BASELINES)}")
        return substrate(x, IG_BASELINES[baseline])
    return torch.full_like(x, float(baseline))


@register("integrated_gradients", "Integrated Gradients", "Sundararajan et al. 2017", "path")
def _integrated_gradients(model, x, target, n_steps: int = 50, baseline: float | str = 0.0):
    return IntegratedGradients(model).attribute(x, baselines=baseline_image(x, baseline), target=target,
                                                n_steps=n_steps, internal_batch_size=images_per_pass(x.shape, 512))


@register("smoothgrad", "SmoothGrad", "Smilkov et al. 2017", "path")
def _smoothgrad(model, x, target, nt_samples: int = 25, stdev: float = 0.15):
    return NoiseTunnel(Saliency(model)).attribute(x, target=target, nt_type="smoothgrad", nt_samples=nt_samples,
                                                  stdevs=stdev, nt_samples_batch_size=nt_samples, abs=True)


@register("gradient_shap", "GradientSHAP", "Lundberg & Lee 2017", "path")
def _gradient_shap(model, x, target, n_samples: int = 20, stdev: float = 0.1, baselines: torch.Tensor | None = None):
    # The baseline distribution: black plus, when given, reference images (e.g. training images), as in
    # SHAP's expectation over a background set. Black alone when none are given.
    black = torch.zeros_like(x[:1])
    baselines = black if baselines is None else torch.cat([black, baselines.to(x)])
    return GradientShap(model).attribute(x, baselines=baselines, target=target, n_samples=n_samples, stdevs=stdev)


@register("deeplift", "DeepLift", "Shrikumar et al. 2017", "gradient", hooks=True, rules="nonlinearities")
def _deeplift(model, x, target, baseline: float = 0.0):
    return DeepLift(model).attribute(x, baselines=torch.full_like(x, baseline), target=target)


@register("guided_backprop", "Guided Backprop", "Springenberg et al. 2015", "gradient", hooks=True,
          rules="nonlinearities")
def _guided_backprop(model, x, target):
    return GuidedBackprop(model).attribute(x, target=target)


@register("deconvolution", "Deconvolution", "Zeiler & Fergus 2014", "gradient", hooks=True,
          rules="nonlinearities")
def _deconvolution(model, x, target):
    return Deconvolution(model).attribute(x, target=target)


@register("grad_cam", "Grad-CAM", "Selvaraju et al. 2017", "layer", hooks=True)
def _grad_cam(model, x, target, layer: nn.Module | None = None):
    # Selvaraju et al. apply the ReLU to the coarse map and then upsample; the other order lets negative cells
    # pull their positive neighbours' interpolated values to zero.
    layer = layer or last_conv_activation(model)
    return _upsample(LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True), x)


@register("guided_grad_cam", "Guided Grad-CAM", "Selvaraju et al. 2017", "layer", hooks=True,
          rules="nonlinearities")
def _guided_grad_cam(model, x, target, layer: nn.Module | None = None):
    """captum's GuidedGradCam upsamples the Grad-CAM map with nearest-neighbour interpolation by default;
    Selvaraju et al. (Sec. 3.2) and our Grad-CAM upsample bilinearly, so we ask for bilinear."""
    layer = layer or last_conv_activation(model)
    return GuidedGradCam(model, layer).attribute(x, target=target, interpolate_mode="bilinear")


@register("occlusion", "Occlusion", "Zeiler & Fergus 2014", "perturbation")
def _occlusion(model, x, target, window: int = 4, stride: int = 2, baseline: float = 0.0,
               superpixels: int | None = None):
    if superpixels:  # large images: remove one SLIC superpixel at a time (see superpixels.py)
        masks = slic_masks(x, superpixels).to(x.device)
        # Up to 16 perturbations of every image per pass, within the forward budget (one pass of 16 × 8 images of
        # 224 px was slower than eight of 16); the attributions do not depend on how the passes are cut.
        per_eval = max(1, min(16, images_per_pass(x.shape, 16 * len(x), FORWARD_PIXELS_PER_PASS) // len(x)))
        return FeatureAblation(model).attribute(x, target=target, feature_mask=masks, baselines=baseline,
                                                perturbations_per_eval=per_eval)
    c = x.shape[1]
    return Occlusion(model).attribute(x, target=target, sliding_window_shapes=(c, window, window),
                                      strides=(c, stride, stride), baselines=baseline, perturbations_per_eval=64)


@register("lrp", "LRP", "Bach et al. 2015", "gradient", hooks=True, rules="layers")
def _lrp(model, x, target):
    # captum's ε rule on the study's CNNs, zennit's composite with canonizers on torchvision ResNets and VGGs, and a
    # map refused when its relevance is not conserved (relevance.py says which and why)
    return lrp(model, x, target)


@register("attention_rollout", "Attention rollout", "Abnar & Zuidema 2020", "attention", hooks=True,
          needs="attention")
def _attention_rollout(model, x, target):
    # the same map for every class (attention_rollout.py): where the transformer looks, not why it chose a class
    return _upsample(attention_rollout(model, x), x)


def offered_methods(model: nn.Module) -> list[str]:
    """The methods that mean something for ``model``: every one, except those that need what it lacks (attention
    rollout needs a vision transformer's attention; a CNN is not offered it, rather than shown it failing)."""
    return [name for name, m in METHODS.items() if m.needs is None or (m.needs == "attention" and has_attention(model))]


def _per_image(explainer_cls, model, x, target, n_samples, cell, superpixels):
    """One image at a time, on its own SLIC superpixels when ``superpixels`` is given, else on a fixed grid."""
    masks = (slic_masks(x, superpixels) if superpixels else grid_feature_mask(x.shape, cell).expand(len(x), -1, -1, -1))
    masks = masks.to(x.device)
    explainer = explainer_cls(model)
    targets = target if isinstance(target, torch.Tensor) else torch.full((len(x),), int(target))
    # The samples are drawn one by one whatever the passes, so only speed and memory depend on their size.
    per_eval = images_per_pass(x.shape, n_samples, FORWARD_PIXELS_PER_PASS)
    return torch.cat([explainer.attribute(x[i:i + 1], target=int(targets[i]), feature_mask=masks[i:i + 1],
                                          n_samples=n_samples, perturbations_per_eval=per_eval)
                      for i in range(len(x))])


@register("lime", "LIME", "Ribeiro et al. 2016", "perturbation")
def _lime(model, x, target, n_samples: int = 200, cell: int = 4, superpixels: int | None = None):
    return _per_image(Lime, model, x, target, n_samples, cell, superpixels)


@register("kernel_shap", "KernelSHAP", "Lundberg & Lee 2017", "perturbation")
def _kernel_shap(model, x, target, n_samples: int = 200, cell: int = 4, superpixels: int | None = None):
    return _per_image(KernelShap, model, x, target, n_samples, cell, superpixels)


def method_names() -> list[str]:
    return list(METHODS)


def batch_seed(seed: int, batch_index: int) -> int:
    """The seed of batch ``batch_index`` of an :func:`explain` call with ``seed``: a fixed function of both (a
    different stream per batch, so equal images in different batches do not share their noise)."""
    return int(np.random.SeedSequence([seed, batch_index]).generate_state(1)[0])


def _seeded(fn, seed: int, device: torch.device):
    """``fn()`` with numpy's and torch's global generators seeded from ``seed``, and restored afterwards."""
    def call():
        np.random.seed(seed)
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        return fn()
    return with_global_rng_restored(call, device)


def explain(model: nn.Module, images: torch.Tensor, targets, method: str, batch_size: int | None = None, seed: int = 0,
            fold: bool = True, **options) -> torch.Tensor:
    """Attributions of ``model``'s logits for ``targets`` on ``images`` by ``method``: a tensor shaped like ``images``.

    ``targets`` is an int or one int per image; options go to the method (e.g. ``n_steps`` for Integrated
    Gradients). Runs in eval mode, in batches of ``batch_size`` (None: 64, fewer for large images, see
    :func:`images_per_pass`); returns a detached CPU tensor. Every module's
    train/eval mode is restored afterwards.

    Batch norms that only normalise a convolution's output are folded into it on a copy that is remembered
    while the model stays the same (:mod:`.batch_norm_folding`: the same function up to float rounding, 6–17 %
    faster on a ResNet-18); LRP explains the model as it is. ``fold=False`` explains the model as it is too: for
    one small image the folding saves less than the check that the remembered copy is still the model costs (a
    digest of every weight, 60 ms for a ResNet-18 on one core), so the explorer, which explains one image per
    answer, passes it.

    Sampling methods draw from numpy's and torch's global generators seeded with :func:`batch_seed` of ``seed``
    and the batch index, so equal calls give equal attributions whatever the caller drew before; both
    generators are restored afterwards, so the caller's own streams are not disturbed either.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; registered: {', '.join(METHODS)}")
    if (why := untyped_reason(model, METHODS[method].rules)) is not None:
        raise ValueError(f"{METHODS[method].title}: {why}")
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    targets = torch.as_tensor(targets)
    if targets.ndim == 0:
        targets = targets.expand(len(images))
    if len(targets) != len(images):
        raise ValueError(f"{len(targets)} targets for {len(images)} images")
    if batch_size is None:
        batch_size = images_per_pass(images.shape, 64)
    elif isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    # Per module: a caller may hold some modules in eval mode (frozen batch norm) inside a model in training.
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        # Traced on the first batch as it will be explained (a model may bind one label per image of a batch).
        if fold:
            model, options = _explained_copy(model, images[:batch_size], method, options)
    except BaseException:
        for module, training in modes.items():
            module.training = training
        raise
    # No method needs the weights' gradients: with them off, backward passes skip the weight-gradient kernels
    # (Saliency of a ResNet-18 at 224 px: 13.7 instead of 12.6 images/s on 2 cores; the maps are the same).
    needs_grad = [p for p in model.parameters() if p.requires_grad and p.is_leaf]
    for p in needs_grad:
        p.requires_grad_(False)
    device = next(model.parameters()).device
    fn = METHODS[method].fn
    out = []
    try:
        with warnings.catch_warnings():
            # captum warns on every call that it sets hooks or that inputs did not require gradients.
            warnings.filterwarnings("ignore", category=UserWarning, module="captum")
            for b, i in enumerate(range(0, len(images), batch_size)):
                x = images[i:i + batch_size].to(device)
                t = targets[i:i + batch_size].to(device)
                attr = _seeded(lambda: fn(model, x, t, **options), batch_seed(int(seed), b), device)
                # Contiguous: a channels-last model (ImageClassifier.use_channels_last) returns input gradients in
                # its layout, and captum's metrics .view() them (max-sensitivity failed on them at 224 px).
                out.append(attr.detach().float().cpu().contiguous())
    finally:
        for module, training in modes.items():
            module.training = training
        for p in needs_grad:
            p.requires_grad_(True)
    return torch.cat(out)


#: Methods that explain the model as it is: captum's LRP has no rule for the ``nn.Identity`` left by folding.
UNFOLDED_METHODS = frozenset({"lrp"})


def _explained_copy(model: nn.Module, images: torch.Tensor, method: str, options: dict):
    """The model that ``method`` explains, and its options: a copy with batch norms folded into their convolutions
    (:mod:`.batch_norm_folding`; the same function, faster), except for :data:`UNFOLDED_METHODS`. A layer method's
    layer is kept as it is (its own output is what the method reads) and translated to the copy's module."""
    if method in UNFOLDED_METHODS:
        return model, options
    layer = options.get("layer")
    if METHODS[method].family == "layer" and layer is None:
        layer = last_conv_activation(model)
    device = next(model.parameters()).device
    folded, by_id = folded_for_explaining(model, images.to(device), keep=(layer,) if layer is not None else ())
    if "layer" in options and id(options["layer"]) in by_id:
        options = dict(options, layer=by_id[id(options["layer"])])
    return folded, options


def heatmap(attributions: torch.Tensor) -> torch.Tensor:
    """One non-negative map per image: |attribution| summed over channels, (N, H, W)."""
    return attributions.abs().sum(1)


def images_per_second(model, images, targets, method, **options) -> float:
    """Throughput of ``method`` on ``images`` (wall clock, this machine, this thread count)."""
    t0 = time.perf_counter()
    explain(model, images, targets, method, **options)
    return len(images) / (time.perf_counter() - t0)
