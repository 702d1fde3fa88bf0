"""How good is an explanation? Faithfulness, robustness, sanity and ground truth (complexity: :mod:`.complexity`;
localisation accuracies: :mod:`.localisation`; Random Logit: :mod:`.random_logit`).

Every function takes tensors and returns tensors/arrays/floats; lower or higher is better as documented.
Heat maps are non-negative (N, H, W) tensors (see :func:`xai_helpers.cnn.attribution.heatmap`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from captum.metrics import infidelity, sensitivity_max
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity
from torch import nn

from .attribution import FORWARD_PIXELS_PER_PASS, explain, heatmap, images_per_pass
from .captum_ready import clone_classifier
from .complexity import efficient_mprt
from .substrates import SUBSTRATES, substrate  # noqa: F401  (re-exported: callers score with em.substrate)


# -------------------------------------------------------------------------------------------- faithfulness
def pixel_order(heat: torch.Tensor, tie_seed: int = 0) -> torch.Tensor:
    """Pixels by decreasing heat, (N, H·W); ties (e.g. the many exact zeros of Input×Gradient on a black
    background) are broken in one fixed random order, the same for every method, not in raster order."""
    flat = heat.flatten(1)
    perm = torch.randperm(flat.shape[1], generator=torch.Generator().manual_seed(tie_seed))
    return perm[flat[:, perm].argsort(dim=1, descending=True, stable=True)]


@torch.no_grad()
def deletion_insertion_curves(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, heat: torch.Tensor,
                              kind: str = "zero", steps: int = 28, batch_size: int | None = None,
                              generator: torch.Generator | None = None, tie_seed: int = 0):
    """Petsiuk et al. 2018: the target-class probability as pixels are removed (deletion) or revealed
    (insertion) in the order of decreasing heat. Returns two (N, steps + 1) arrays of probabilities.

    The perturbed images of consecutive steps share forward passes of up to ``batch_size`` images: one image's
    two curves at 28 steps are one pass of 58 images rather than 58 passes of one (the explorer redraws them on
    every change). ``batch_size`` None: as many as :data:`~.attribution.FORWARD_PIXELS_PER_PASS` allows (256 of
    28 px, 4 of 224 px), at most 1,024."""
    n, c, h, w = x.shape
    batch_size = images_per_pass(x.shape, 1024, FORWARD_PIXELS_PER_PASS) if batch_size is None else batch_size
    fill = substrate(x, kind, generator)
    order = pixel_order(heat, tie_seed)  # most important pixel first
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(h * w).expand(n, -1))
    counts = torch.linspace(0, h * w, steps + 1).round().long()

    def perturbed():  # per step: the deletion images, then the insertion images
        for k in counts:
            removed = (rank < k).view(n, 1, h, w).expand(-1, c, -1, -1)  # the k most important pixels
            yield torch.where(removed, fill, x)
            yield torch.where(removed, x, fill)

    probs = _target_probabilities(model, perturbed(), targets.cpu(), batch_size)
    return torch.stack(probs[0::2], 1).numpy(), torch.stack(probs[1::2], 1).numpy()


def _target_probabilities(model: nn.Module, blocks, targets: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """``p(target_i | image_i)`` for each block of images (every block (N, C, H, W), row i for ``targets[i]``),
    in block order; blocks are concatenated into forward passes of at most ``batch_size`` images."""
    device = next(model.parameters()).device
    rows = torch.arange(len(targets))
    out: list[torch.Tensor] = []
    pending: list[torch.Tensor] = []

    def flush():
        batch = torch.cat(pending)
        probs = torch.cat([F.softmax(model(batch[i:i + batch_size].to(device)), 1).cpu()
                           for i in range(0, len(batch), batch_size)])
        out.extend(block[rows, targets] for block in probs.split(len(targets)))
        pending.clear()

    for block in blocks:
        if pending and (len(pending) + 1) * len(targets) > batch_size:
            flush()
        pending.append(block)
    if pending:
        flush()
    return out


def curve_auc(curves: np.ndarray) -> float:
    """Area under curves sampled on an even grid over [0, 1], averaged over images (trapezoid rule)."""
    return float(np.trapezoid(curves, dx=1.0 / (curves.shape[1] - 1), axis=1).mean())


def random_heatmap(shape, generator: torch.Generator) -> torch.Tensor:
    """The random-attribution baseline every faithfulness number is compared with."""
    return torch.rand(shape, generator=generator)


# ---------------------------------------------------------------------------------------------- robustness
def infidelity_score(model, x, targets, attributions, noise_std: float = 0.05, n_perturb: int = 16,
                     seed: int = 0) -> float:
    """captum ``infidelity`` (Yeh et al. 2019) with Gaussian input noise of std ``noise_std``; lower is better.

    The perturbations come from a generator seeded with ``seed``, so every method is scored on the same ones;
    compare with :func:`infidelity_score` of an all-zero attribution (what "explaining nothing" scores).

    Normalised (captum's ``normalize=True``: attributions are rescaled by the least-squares optimal factor), so
    that methods whose maps differ only in scale (e.g. |gradient| vs. signed relevance) are comparable."""
    gen = torch.Generator().manual_seed(seed)  # the same perturbations for every method

    def perturb(inputs):
        noise = (torch.randn(inputs.shape, generator=gen) * noise_std).to(inputs)
        return noise, inputs - noise

    device = next(model.parameters()).device
    value = infidelity(model, perturb, x.to(device), attributions.to(device), target=targets.to(device),
                       n_perturb_samples=n_perturb, normalize=True,
                       max_examples_per_batch=max(len(x), min(256, len(x) * n_perturb)))
    return float(value.mean())


def max_sensitivity(model, x, targets, method: str, radius: float = 0.02, n_perturb: int = 8, seed: int = 0,
                    **options) -> float:
    """captum ``sensitivity_max`` (Yeh et al. 2019): the largest change of the explanation under uniform
    input perturbations of L∞ radius ``radius``, relative to its norm; lower is better.

    Stochastic methods (SmoothGrad, GradientSHAP, LIME, KernelSHAP) draw their own noise, from torch's and
    numpy's global generators, seeded with ``seed`` on every call by :func:`explain` (which restores both, so
    captum's perturbation stream is untouched): the score measures the explanation's instability under input
    changes, not the method's own sampling noise. The perturbations come from ``seed`` too, the same for every
    method."""
    def explanation(inputs, target):
        single = inputs[0] if isinstance(inputs, tuple) else inputs  # captum passes a tuple of inputs
        attr = explain(model, single, target, method, seed=seed, **options).to(single.device)
        return (attr,) if isinstance(inputs, tuple) else attr

    device = next(model.parameters()).device
    # captum draws the input perturbations from torch's global generator: seeded here (and the caller's stream
    # given back), so that every method is scored under the same perturbations whatever ran before it.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        value = sensitivity_max(explanation, x.to(device), perturb_radius=radius, n_perturb_samples=n_perturb,
                                target=targets.to(device), max_examples_per_batch=len(x))
    return float(value.mean())


#: Maps of different images of one class this alike (mean Spearman) hardly depend on the input: their
#: max-sensitivity of about 0 is no merit (Yeh et al. 2019: a constant explanation is perfectly insensitive).
INPUT_INDEPENDENT_MIN = 0.95


def cross_image_similarity(heat: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean Spearman rank correlation between the maps of different images explained for the same class, each
    image paired with the next one of its class; NaN without such a pair. Near 1 for a map that hardly depends on
    the input (Deconvolution on a network without max pooling), which max-sensitivity cannot tell from a robust
    one. Constant maps have no ranking and are left out."""
    flat, targets = heat.flatten(1).double(), torch.as_tensor(targets).cpu()
    rhos = []
    for c in torch.unique(targets):
        idx = torch.nonzero(targets == c).flatten()
        for a, b in zip(idx, idx.roll(-1)) if len(idx) > 1 else ():
            if len(idx) == 2 and a > b:  # two images: one pair, not the same pair twice
                continue
            u, v = flat[a].numpy(), flat[b].numpy()
            if u.std() > 0 and v.std() > 0:
                rhos.append(spearmanr(u, v).statistic)
    return float(np.mean(rhos)) if rhos else float("nan")


# ------------------------------------------------------------------------------------------------- sanity
def _kind(module: nn.Module) -> str:
    """The module's class name; for TorchScript the name it was compiled from, for a torch.export program's
    unflattened module (``InterpreterModule``) the class it was exported from (``_ty``, a dotted name)."""
    return module.original_name if isinstance(module, torch.jit.ScriptModule) else (
        getattr(module, "_ty", None) or type(module).__name__).rsplit(".", 1)[-1]


def parameter_layers(model: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    """Layers in forward order, each a conv or linear module grouped with the batch norm that follows it."""
    groups: list[tuple[str, list[nn.Module]]] = []
    for name, module in model.named_modules():
        if _kind(module) in ("Conv2d", "Linear", "ConvTranspose2d"):
            groups.append((name, [module]))
        elif _kind(module) in ("BatchNorm1d", "BatchNorm2d") and groups:
            groups[-1][1].append(module)
    return groups


#: Blocks randomised as one step of the cascade: torchvision's residual and inverted-residual blocks, DenseNet's dense
#: layers and transformer blocks. Adebayo et al. 2018 randomised Inception v3 block by block ("mixed" modules); a
#: block's skip connection carries its input past a half-randomised block, so the steps inside a block show little.
#: On a ResNet-18: 10 steps instead of 22, and the same fully randomised model (layers re-drawn in the same order).
RANDOMISED_BLOCKS = frozenset({"BasicBlock", "Bottleneck", "ResBottleneckBlock", "InvertedResidual", "MBConv",
                               "FusedMBConv", "CNBlock", "_DenseLayer", "EncoderBlock", "SwinTransformerBlock",
                               "SwinTransformerBlockV2"})


def randomisation_steps(model: nn.Module) -> list[tuple[str, list[list[nn.Module]]]]:
    """The steps of the cascading randomisation in forward order: ``(name, groups)``, ``groups`` the
    :func:`parameter_layers` groups that step re-draws. A layer inside a block of :data:`RANDOMISED_BLOCKS` (the
    outermost such block) is randomised with its whole block, named after it; any other layer is its own step."""
    blocks = [name for name, module in model.named_modules() if name and _kind(module) in RANDOMISED_BLOCKS]
    steps: list[tuple[str, list[list[nn.Module]]]] = []
    for name, modules in parameter_layers(model):
        # named_modules lists a module before the modules inside it: the first block that holds the layer is outermost
        step = next((block for block in blocks if name.startswith(block + ".")), name)
        if steps and steps[-1][0] == step:
            steps[-1][1].append(modules)
        else:
            steps.append((step, [modules]))
    return steps


def reinitialise(modules, generator: torch.Generator) -> None:
    with torch.no_grad():
        for m in modules:
            if _kind(m).startswith("BatchNorm"):  # weight 1, bias 0, running statistics reset
                m.weight.fill_(1.0)
                m.bias.zero_()
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
                continue
            fan_in = m.weight[0].numel()
            bound = 1 / np.sqrt(fan_in)
            m.weight.copy_((torch.rand(m.weight.shape, generator=generator) * 2 - 1) * bound)
            if getattr(m, "bias", None) is not None:  # an exported convolution without a bias has no attribute
                m.bias.copy_((torch.rand(m.bias.shape, generator=generator) * 2 - 1) * bound)


def foreground_spearman(a: torch.Tensor, b: torch.Tensor, foreground: torch.Tensor) -> np.ndarray:
    """Per-image Spearman rank correlation of two heat maps over the image's foreground pixels; NaN where a
    map is constant there (a degenerate map, e.g. all zeros, has no ranking to compare)."""
    out = []
    for ai, bi, fi in zip(a, b, foreground):
        va, vb = ai[fi].numpy(), bi[fi].numpy()
        out.append(spearmanr(va, vb).statistic if va.std() > 0 and vb.std() > 0 else np.nan)
    return np.array(out, dtype=float)


def map_ssim(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Per-image SSIM of two heat maps, each scaled to [0, 1] by its maximum."""
    out = []
    for ai, bi in zip(a, b):
        ai = (ai / ai.max()).numpy() if ai.max() > 0 else ai.numpy()
        bi = (bi / bi.max()).numpy() if bi.max() > 0 else bi.numpy()
        out.append(structural_similarity(ai, bi, data_range=1.0, win_size=7))
    return np.array(out, dtype=float)


#: A method whose maps are constant for more than this share of the images after randomisation is "degenerate":
#: it fails the sanity check and ranks last (a few constant maps among many do not decide, issue 29).
DEGENERATE_MAX_SHARE = 0.5


def sanity_pass(abs_spearman: float, degenerate_share: float, threshold: float) -> bool:
    """Adebayo et al.'s test as the study applies it: after full randomisation the maps that still have a ranking
    share little of it with the original (mean per-image |ρ| ≤ ``threshold``), and the maps are not mostly
    degenerate (a constant map has nothing left to compare: that is no pass)."""
    return bool(np.isfinite(abs_spearman) and abs_spearman <= threshold and degenerate_share <= DEGENERATE_MAX_SHARE)


def cascading_randomization(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, method: str,
                            seed: int = 0, foreground_threshold: float = 0.1, **options) -> list[dict]:
    """Adebayo et al. 2018: re-initialise layers from the top (logits) down, cumulatively, and compare each
    explanation with the original one; a residual or transformer block is one step (:func:`randomisation_steps`).
    Step 0 is the trained model (similarity 1 by construction).

    Returns one record per step: ``layer`` (the last layer randomised), mean foreground ``spearman`` (signed,
    a constant map as 0), ``abs_spearman`` (mean per-image |ρ| over the maps that are not constant), ``ssim``,
    the number of ``degenerate`` (constant) maps and their ``degenerate_share``, and ``complexity_change``: the
    mean per-image relative change of the map's discrete entropy (:func:`~.complexity.efficient_mprt`; maps whose
    original has entropy 0 left out), which at the last step, the fully randomised model, is Efficient MPRT. The
    model passed in is not modified (a deep copy is randomised). :func:`randomisation_cascade` does this for several
    methods at once."""
    return randomisation_cascade(model, x, targets, {method: options}, seed, foreground_threshold)[method]


def randomisation_cascade(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, methods: dict[str, dict],
                          seed: int = 0, foreground_threshold: float = 0.1) -> dict[str, list[dict]]:
    """:func:`cascading_randomization` of every method in ``methods`` (name: options), on one randomised copy:
    each step's weights are drawn once and explained by every method, so each step's model is copied, digested and
    its batch norms folded once rather than once per method (with block steps, 02's cascade on a ResNet-18 at 224 px
    took 220 s instead of 420 s). The
    draws are those of one method's cascade, so every method's records equal its own
    :func:`cascading_randomization`."""
    generator = torch.Generator().manual_seed(seed)
    foreground = x.amax(1) > foreground_threshold

    def explained(net, method):  # stochastic methods draw the same noise at every step
        return heatmap(explain(net, x, targets, method, seed=seed, **methods[method]))

    def record(layer, reference, heat):
        rho = foreground_spearman(reference, heat, foreground)
        change = efficient_mprt(reference, heat)
        # A degenerate (constant) map shares no ranking with the original: it counts as 0 in the signed mean and
        # is left out of ``abs_spearman``, the mean per-image |ρ| over the maps that have a ranking (a mean of
        # signed ρ lets +0.66 and −0.36 cancel).
        usable = ~np.isnan(rho)
        return {"layer": layer, "spearman": float(np.nan_to_num(rho, nan=0.0).mean()),
                "abs_spearman": float(np.abs(rho[usable]).mean()) if usable.any() else float("nan"),
                "ssim": float(map_ssim(reference, heat).mean()), "degenerate": int((~usable).sum()),
                "degenerate_share": float((~usable).mean()),
                "complexity_change": float(np.nanmean(change)) if np.isfinite(change).any() else float("nan")}

    references = {m: explained(model, m) for m in methods}
    work = clone_classifier(model).eval()  # deepcopy, except for TorchScript (see clone_classifier)
    # Step 0 explains the (still trained) copy: 1 unless the method is not deterministic.
    records = {m: [record("none (trained)", references[m], explained(work, m))] for m in methods}
    for name, groups in reversed(randomisation_steps(work)):
        for modules in reversed(groups):  # top down inside a block too: the same draws as layer by layer
            reinitialise(modules, generator)
        for m in methods:
            records[m].append(record(name, references[m], explained(work, m)))
    return records


# ------------------------------------------------------------------------------------------- ground truth
def pointing_game(heat: torch.Tensor, boxes: torch.Tensor, tolerance: int = 1) -> np.ndarray:
    """Zhang et al. 2018: per image, the share of the map's tied maxima that lie inside the known box
    (± ``tolerance`` pixels), i.e. the expected hit when ties are broken uniformly at random; deterministic.

    1 for a single peak inside the box, 0 for one outside, 0.5 for a block-shaped maximum (LIME, KernelSHAP
    superpixels) half inside. Counting a hit when *any* tied maximum touches the box would let a coarse map beat
    :func:`pointing_chance` without pointing anywhere (4×4 blocks: about twice the chance level). A constant map
    (maximum = minimum, e.g. all zeros) points nowhere and scores 0.

    ``boxes`` is (N, 4) as (top, left, height, width)."""
    h, w = heat.shape[1:]
    flat = heat.flatten(1)
    top = flat.max(1, keepdim=True).values
    is_max = flat == top
    constant = (top[:, 0] == flat.min(1).values)
    inside = box_mask(_grown(boxes, tolerance), h, w).flatten(1)
    share = (is_max & inside).sum(1).double() / is_max.sum(1).clamp_min(1).double()
    return torch.where(constant, torch.zeros_like(share), share).numpy()


def pointing_chance(boxes: torch.Tensor, h: int, w: int, tolerance: int = 1) -> float:
    """The pointing game's chance level: the mean share of the image that counts as a hit.

    For the tie-sharing score of :func:`pointing_game` this is the chance of maps of *any* granularity (a
    single pixel or a block of ties at a uniformly random position), provided no map is constant; see
    :func:`pointing_chance_for_maps` for the chance of a given method's own maps."""
    return float(_hit_share(boxes, h, w, tolerance).mean())


def pointing_chance_for_maps(heat: torch.Tensor, boxes: torch.Tensor, tolerance: int = 1) -> float:
    """The chance level of a method's own maps: the mean :func:`pointing_game` score of each map under every
    one of the H·W circular shifts of the map, against the same box. A shift keeps the map's granularity (its
    block of tied maxima moves as a whole) and puts its maximum at a uniformly random position.

    Closed form (exact, deterministic, no sampling): over the H·W shifts each of the map's tied maxima M visits
    every pixel once, so the mean of |shift(M) ∩ B| is |M|·|B| / (H·W) and the mean share inside B is |B| / (H·W):

        chance = mean_i [map_i is not constant] · |B_i ∩ image| / (H·W)

    with B_i the tolerance-grown box. The block size drops out: a 4×4 LIME map and a single-pixel saliency map
    have the same chance, which is :func:`pointing_chance` less the constant maps (which score 0 anywhere)."""
    h, w = heat.shape[1:]
    flat = heat.flatten(1)
    pointing = (flat.max(1).values > flat.min(1).values).double()
    return float((pointing * _hit_share(boxes, h, w, tolerance)).mean())


def _grown(boxes: torch.Tensor, tolerance: int) -> torch.Tensor:
    grown = boxes.clone()
    grown[:, :2] -= tolerance
    grown[:, 2:] += 2 * tolerance
    return grown


def _hit_share(boxes: torch.Tensor, h: int, w: int, tolerance: int) -> torch.Tensor:
    """Per box, the share of the h×w image inside the tolerance-grown box (clipped to the image)."""
    return box_mask(_grown(boxes, tolerance), h, w).flatten(1).double().mean(1)


def box_mask(boxes: torch.Tensor, h: int, w: int) -> torch.Tensor:
    rows, cols = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
    top, left, bh, bw = (v[:, None, None] for v in boxes.T)
    return (rows >= top) & (rows < top + bh) & (cols >= left) & (cols < left + bw)


# ------------------------------------------------------------------------------------ attention agreement
def rank_agreement(a: torch.Tensor, b: torch.Tensor, top_fraction: float = 0.1, mask: torch.Tensor | None = None):
    """Per image: Spearman correlation of two maps, and the overlap |top-k(a) ∩ top-k(b)| / k of their top
    ``top_fraction`` pixels; both over the pixels of ``mask`` (e.g. the foreground) when given."""
    rho, overlap = [], []
    for i in range(len(a)):
        keep = mask[i].flatten() if mask is not None else torch.ones(a[i].numel(), dtype=torch.bool)
        fa, fb = a[i].flatten()[keep], b[i].flatten()[keep]
        k = max(1, int(round(top_fraction * len(fa))))
        rho.append(spearmanr(fa.numpy(), fb.numpy()).statistic if fa.std() > 0 and fb.std() > 0 else np.nan)
        overlap.append(len(set(fa.topk(k).indices.tolist()) & set(fb.topk(k).indices.tolist())) / k)
    return np.array(rho, dtype=float), np.array(overlap)
