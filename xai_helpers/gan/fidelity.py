"""Generative fidelity without downloaded weights: torch-fidelity with the study's own classifier as the
feature extractor, plus the class histogram that only a classifier can give.

torch-fidelity computes FID, KID, IS and precision/recall. Its built-in extractors (Inception, VGG16, CLIP…)
download weights at run time, so we register :class:`ClassifierFeatures`: a trained classifier of this study
whose pre-activation hidden layer (128-d for the plain CNN) gives the features of FID, KID and precision/recall
and whose logits give the Inception Score. torch-fidelity keys its feature cache by the extractor's name only,
so the name carries the SHA-256 of the classifier's weights (and of the feature scale), and we also turn its
file cache off.

The hidden features are divided by one constant, their root mean square on reference images (the training
split), so that they have unit mean square per dimension. FID only changes unit under this (it scales by
1/s²), but KID's polynomial kernel k(x, y) = (xᵀy/d + 1)³ (Bińkowski et al. 2018) is not scale-free: with the
raw pre-activations (RMS ≈ 10) the cubic term dominates and KID's bias swamps its signal.

The numbers are *domain* metrics (think "FID in a digit classifier's feature space"): they are comparable
within one run of this study, not with Inception FIDs from papers. The keys say so: ``fid`` here never
holds an Inception FID; :func:`inception_fid` computes that separately, only from weights the user has locally.

To make a number readable, :func:`corrupt` and :func:`corruption_ladder` build a calibration scale from real
images (noise, blur, occlusion at rising strength), and :func:`collapsed_samples` imitates a generator that
has collapsed onto one class.
"""
from __future__ import annotations

import copy
import hashlib
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..study import SAVE_ADVICE, refusal
from .density_coverage import density_coverage
from .feature_sites import INPUT_SUFFIX, capture_features, feature_module

#: Our names for torch-fidelity's result keys (which keep Inception names whatever the extractor).
RESULT_KEYS = {
    "frechet_inception_distance": "fid",
    "kernel_inception_distance_mean": "kid_mean",
    "kernel_inception_distance_std": "kid_std",
    "inception_score_mean": "inception_score",
    "inception_score_std": "inception_score_std",
    "precision": "precision",
    "recall": "recall",
    "f_score": "f_score",
}

CORRUPTIONS = ("noise", "blur", "occlusion")
#: Default strengths: noise σ (images in [0, 1]), blur σ in pixels, occluded share of the image side.
DEFAULT_LADDER = {"noise": (0.05, 0.1, 0.2, 0.4), "blur": (0.5, 1.0, 1.5, 2.0), "occlusion": (0.2, 0.35, 0.5, 0.65)}


def weights_hash(model: nn.Module) -> str:
    """SHA-256 (12 hex digits) of a model's state dict (names, shapes and values)."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def default_hidden_layer(model: nn.Module) -> str:
    """Where the classifier's features are read: the head's first Linear layer, its pre-activation output where the
    head has a hidden layer (the study's CNNs: 128-d), its input where the head is that one Linear (a torchvision
    ResNet's pooled 512-d features: its output would be the logits). Module names hold no colon, so
    ``"<name>:input"`` (:data:`INPUT_SUFFIX`) is unambiguous."""
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no Linear layer: pass hidden_layer= (a module name)")
    return linears[0] if len(linears) > 1 else linears[0] + INPUT_SUFFIX


@torch.no_grad()
def hidden_features(model: nn.Module, images01: torch.Tensor, hidden_layer: str, batch_size: int = 500) -> torch.Tensor:
    """The (unscaled) features at ``hidden_layer`` (:func:`default_hidden_layer`) for ``images01``, flattened:
    (N, d)."""
    captured = []
    handle = capture_features(model, hidden_layer, captured)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        for i in range(0, len(images01), batch_size):
            model(images01[i:i + batch_size].to(device))
    finally:
        handle.remove()
        model.train(was_training)
    return torch.cat([c.flatten(1).cpu() for c in captured])


def register_classifier_features(model: nn.Module, reference01: torch.Tensor, hidden_layer: str | None = None) -> str:
    """Register ``model`` with torch-fidelity; returns the extractor name ``xai-classifier-<hash>``, the hash
    covering the weights, the layer and the feature scale (the RMS of the hidden features on ``reference01``,
    e.g. the training split). Registering the same classifier again returns the same name."""
    hidden_layer = hidden_layer or default_hidden_layer(model)
    feature_module(model, hidden_layer)  # a module of the model, or a clear error
    if len(reference01) < 2:
        raise ValueError(f"reference01 must hold images to set the feature scale, got {len(reference01)}")
    scale = float(hidden_features(model, reference01, hidden_layer).pow(2).mean().sqrt())
    if not scale > 0:
        raise ValueError(f"the hidden layer {hidden_layer!r} is all zero on the reference images")
    digest = hashlib.sha256(f"{weights_hash(model)}|{hidden_layer}|{scale:.9g}".encode()).hexdigest()[:12]
    name = f"xai-classifier-{digest}"
    import torch_fidelity

    from .fidelity_extractor import CLASSIFIERS, FEATURE_SCALES, HIDDEN_LAYERS, ClassifierFeatures
    if name not in torch_fidelity.registry.FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(name, ClassifierFeatures)
    CLASSIFIERS[name] = copy.deepcopy(model).cpu().eval()
    HIDDEN_LAYERS[name], FEATURE_SCALES[name] = hidden_layer, scale
    return name


def extractor_info(name: str) -> dict:
    """What a registered extractor is: the classifier's weights hash, the layer, its width and the scale."""
    from .fidelity_extractor import CLASSIFIERS, FEATURE_SCALES, HIDDEN_LAYERS
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown feature extractor {name!r}")
    model = CLASSIFIERS[name]
    module, reads_input = feature_module(model, HIDDEN_LAYERS[name])
    width = getattr(module, "in_features" if reads_input else "out_features", None)
    return {"name": name, "weights_sha256_12": weights_hash(model), "hidden_layer": HIDDEN_LAYERS[name],
            "hidden_dim": width, "feature_scale": FEATURE_SCALES[name]}


def to_uint8(images01: torch.Tensor) -> torch.Tensor:
    """[0, 1] float images → uint8 (round to nearest), as torch-fidelity expects."""
    return (images01.clamp(0, 1) * 255).round().to(torch.uint8)


class Uint8Images(Dataset):
    """A fixed set of images as a torch-fidelity input (uint8, (C, H, W) per item)."""

    def __init__(self, images01: torch.Tensor):
        if images01.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images01.shape)}")
        self.images = to_uint8(images01.detach().cpu())

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


def _check_registered(extractor: str) -> None:
    from .fidelity_extractor import CLASSIFIERS
    if extractor not in CLASSIFIERS:
        raise ValueError(f"unknown feature extractor {extractor!r}: register one with register_classifier_features "
                         f"(registered: {', '.join(CLASSIFIERS) or 'none'})")


def fidelity_metrics(fake01: torch.Tensor, real01: torch.Tensor, extractor: str, *, kid_subsets: int = 100,
                     kid_subset_size: int | None = None, prc_neighborhood: int = 3, isc_splits: int = 10,
                     seed: int = 0, device: str | torch.device = "cpu") -> dict[str, float]:
    """FID, KID (mean, std), IS (mean, std), precision, recall and F-score of ``fake01`` against ``real01``
    (both [0, 1] images), in the feature space of the registered ``extractor`` (keys from :data:`RESULT_KEYS`),
    and density and coverage in the same features (:mod:`.density_coverage`, k = 5).

    Precision is the share of generated images inside the real images' k-NN manifold, recall the reverse
    (Kynkäänniemi et al. 2019). KID subsets have ``kid_subset_size`` images (default: half the smaller set, at
    most 1000); ``kid_std`` is the spread over these overlapping resamples, not a standard error.
    """
    _check_registered(extractor)
    n = min(len(fake01), len(real01))
    if n < 2 * isc_splits or n < prc_neighborhood + 2:
        raise ValueError(f"need at least {max(2 * isc_splits, prc_neighborhood + 2)} images per set, got {n}")
    kid_subset_size = kid_subset_size or min(1000, n // 2)
    if kid_subset_size > n:
        raise ValueError(f"kid_subset_size {kid_subset_size} exceeds the smaller set ({n} images)")
    with torch.random.fork_rng(devices=[]):  # its data loaders draw seeds from the global torch generator
        import torch_fidelity
        result = torch_fidelity.calculate_metrics(
            input1=Uint8Images(fake01), input2=Uint8Images(real01), feature_extractor=extractor,
            isc=True, fid=True, kid=True, prc=True, isc_splits=isc_splits, kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size, prc_neighborhood=prc_neighborhood,
            cuda=torch.device(device).type == "cuda", batch_size=500, save_cpu_ram=True,  # no loader workers on 2 cores
            cache=False, verbose=False, rng_seed=seed)
    metrics = {RESULT_KEYS[k]: float(v) for k, v in result.items() if k in RESULT_KEYS}
    metrics.update(density_coverage(scaled_features(extractor, real01), scaled_features(extractor, fake01)))
    return metrics


def scaled_features(extractor: str, images01: torch.Tensor) -> np.ndarray:
    """The features torch-fidelity reads from the registered ``extractor`` (its ``hidden``: the images as uint8,
    back to [0, 1], the hidden layer divided by the feature scale), for measures it does not compute."""
    from .fidelity_extractor import CLASSIFIERS, FEATURE_SCALES, HIDDEN_LAYERS
    _check_registered(extractor)
    images = to_uint8(images01.detach().cpu()).float() / 255
    features = hidden_features(CLASSIFIERS[extractor], images, HIDDEN_LAYERS[extractor])
    return (features / FEATURE_SCALES[extractor]).numpy()


def fid(fake01: torch.Tensor, real01: torch.Tensor, extractor: str, device: str | torch.device = "cpu") -> float:
    """FID alone (cheaper than :func:`fidelity_metrics`)."""
    _check_registered(extractor)
    with torch.random.fork_rng(devices=[]):
        import torch_fidelity
        result = torch_fidelity.calculate_metrics(
            input1=Uint8Images(fake01), input2=Uint8Images(real01), feature_extractor=extractor, fid=True,
            cuda=torch.device(device).type == "cuda", batch_size=500, save_cpu_ram=True, cache=False, verbose=False)
    return float(result["frechet_inception_distance"])


@torch.no_grad()
def predicted_classes(classifier: nn.Module, images01: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """The class the classifier assigns to each of ``images01`` (on the CPU); its train/eval mode is kept."""
    was_training = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    preds = torch.cat([classifier(images01[i:i + batch_size].to(device)).argmax(1).cpu()
                       for i in range(0, len(images01), batch_size)])
    classifier.train(was_training)
    return preds


def class_histogram(classifier: nn.Module, images01: torch.Tensor, num_classes: int,
                    batch_size: int = 500) -> np.ndarray:
    """How many of ``images01`` the classifier assigns to each class."""
    return np.bincount(predicted_classes(classifier, images01, batch_size).numpy(), minlength=num_classes)


def class_coverage(counts, min_share: float = 0.1) -> dict[str, float]:
    """``classes_covered``: classes that get at least ``min_share`` of their uniform share (1/K) of the samples,
    so a few stray images do not count as covering a class; ``class_kl`` = KL(p̂ ‖ uniform) = Σ p̂ log(K p̂)
    in nats (0 for a perfectly balanced histogram, log K when all samples fall in one class)."""
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 1 or counts.sum() <= 0:
        raise ValueError("counts must be a non-empty 1-D histogram with a positive total")
    k = len(counts)
    p = counts / counts.sum()
    nz = p > 0
    return {"classes_covered": int((p >= min_share / k).sum()),
            "class_kl": float(np.sum(p[nz] * np.log(k * p[nz])))}


def corrupt(images01: torch.Tensor, kind: str, strength: float, seed: int = 0) -> torch.Tensor:
    """One corruption of real images at one strength, deterministic in ``seed``.

    ``noise``: additive Gaussian noise of std ``strength``, clamped to [0, 1]; ``blur``: Gaussian blur of std
    ``strength`` pixels; ``occlusion``: a black square of side ``strength`` × the image side, centred at a
    random point per image. The same seed gives the same noise pattern and the same centres at every
    strength, so the corruptions are nested and a ladder differs only in strength.
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r}; allowed: {', '.join(CORRUPTIONS)}")
    if not strength >= 0:
        raise ValueError(f"strength must be non-negative, got {strength!r}")
    gen = torch.Generator().manual_seed(seed)
    n, c, h, w = images01.shape
    if kind == "noise":
        return (images01 + strength * torch.randn(images01.shape, generator=gen)).clamp(0, 1)
    if kind == "blur":
        if strength == 0:
            return images01.clone()
        from torchvision.transforms.functional import gaussian_blur
        size = 2 * math.ceil(3 * strength) + 1
        return gaussian_blur(images01, [size, size], [strength, strength])
    if not strength <= 1:
        raise ValueError(f"occlusion strength is a share of the image side in [0, 1], got {strength!r}")
    cy, cx = (torch.rand(n, generator=gen) * h), (torch.rand(n, generator=gen) * w)
    half_h, half_w = strength * h / 2, strength * w / 2
    rows, cols = torch.arange(h).float() + 0.5, torch.arange(w).float() + 0.5
    inside = (((rows[None, :] - cy[:, None]).abs() <= half_h)[:, :, None]
              & ((cols[None, :] - cx[:, None]).abs() <= half_w)[:, None, :])
    return images01.masked_fill(inside[:, None].expand(-1, c, -1, -1), 0.0)


def corruption_ladder(images01: torch.Tensor, ladder: dict | None = None, seed: int = 0):
    """``{kind: [(strength, corrupted images), ...]}`` for each kind of ``ladder`` (default :data:`DEFAULT_LADDER`),
    strengths in increasing order."""
    ladder = DEFAULT_LADDER if ladder is None else ladder
    out = {}
    for kind, strengths in ladder.items():
        strengths = sorted(float(s) for s in strengths)
        out[kind] = [(s, corrupt(images01, kind, s, seed)) for s in strengths]
    return out


def collapsed_samples(images01: torch.Tensor, labels: torch.Tensor, cls: int, n: int, seed: int = 0) -> torch.Tensor:
    """What a generator collapsed onto class ``cls`` would produce: ``n`` real images of that class, drawn
    with replacement. Being real images, they isolate the cost of lost diversity from that of poor quality."""
    pool = torch.nonzero(labels == cls).flatten()
    if len(pool) == 0:
        raise ValueError(f"class {cls!r} has no images")
    gen = torch.Generator().manual_seed(seed)
    return images01[pool[torch.randint(len(pool), (n,), generator=gen)]]


def inception_fid(fake01: torch.Tensor, real01: torch.Tensor, weights_path: str | Path,
                  device: str | torch.device = "cpu") -> float:
    """The classic Inception-v3 FID (pool3, 2048-d), computed only from Inception weights the user has locally
    (torch-fidelity's converted file, e.g. ``weights-inception-2015-12-05-6726825d.pth``); never downloads.
    Grayscale images are repeated to three channels. Reported apart from :func:`fidelity_metrics`' ``fid``."""
    path = Path(weights_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Inception weights not found at {path}; give the path of torch-fidelity's "
                                f"converted Inception-v3 weights (a .pth file) or leave it empty to skip")

    def rgb(x):
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    try:  # torch-fidelity itself loads the file with weights_only=False, which would run any pickle in it
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path} is not a plain state dict of tensors ({refusal(err)}); refusing to unpickle it: "
                         f"{SAVE_ADVICE}") from None
    with torch.random.fork_rng(devices=[]):
        import torch_fidelity
        result = torch_fidelity.calculate_metrics(
            input1=Uint8Images(rgb(fake01)), input2=Uint8Images(rgb(real01)), feature_extractor="inception-v3-compat",
            feature_layer_fid="2048", feature_extractor_weights_path=str(path), fid=True,
            cuda=torch.device(device).type == "cuda", batch_size=100, save_cpu_ram=True, cache=False, verbose=False)
    return float(result["frechet_inception_distance"])


def __getattr__(name):
    # ClassifierFeatures subclasses torch-fidelity's base class, and importing torch-fidelity imports torchvision and
    # torch._dynamo (~1.2 s of every kernel's start); it is imported when first asked for, not with this module.
    if name == "ClassifierFeatures":
        from .fidelity_extractor import ClassifierFeatures
        return ClassifierFeatures
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
