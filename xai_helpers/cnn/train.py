"""Classifier training, cached by the hash of everything that determines the weights.

``train_classifier`` returns a :class:`TrainedClassifier`: the model in eval mode, its per-epoch history and a
snapshot of the weights after every epoch (epoch 0 = initialisation), so training-phase analyses can replay
the run without retraining. A second call with the same inputs loads the cache entry and trains nothing.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data import ImageDataset, TrainStamps
from ..study import (cache as _cache, progress_mode, resolve_device, seed_everything, source_fingerprint,
                     with_global_rng_restored)
from . import captum_ready as _captum_ready
from . import models as _models
from .attribution import FORWARD_PIXELS_PER_PASS, images_per_pass

#: Version tag of the training recipe; the source hash below catches code edits, this documents intent.
RECIPE = "adamw-onecycle-affine-v1"


@dataclass(kw_only=True)
class TrainedClassifier(_cache.CachedTraining):
    """A trained classifier (in eval mode), its architecture name, and the record of its cached training; its
    ``snapshots`` are the state dicts after every epoch, epoch 0 being the initialisation."""

    model: nn.Module
    arch: str


def augment_batch(x: torch.Tensor, generator: torch.Generator, max_rotation: float = 10.0,
                  max_shift: float = 0.1, scale_range: float = 0.1) -> torch.Tensor:
    """Random small affine transforms (rotation in degrees, shift as a fraction of the image, scale)."""
    n = x.shape[0]
    u = torch.rand(n, 4, generator=generator) * 2 - 1
    angle = u[:, 0] * math.radians(max_rotation)
    scale = 1 + u[:, 1] * scale_range
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, u[:, 2] * 2 * max_shift], 1),
                         torch.stack([sin, cos, u[:, 3] * 2 * max_shift], 1)], 1).to(x)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment_keeping_stamps(x: torch.Tensor, index: torch.Tensor, stamps: TrainStamps,
                           generator: torch.Generator) -> torch.Tensor:
    """:func:`augment_batch` of training images ``x`` (rows ``index`` of the training split) that keeps a planted
    pattern exactly as it is tested: each stamped image is augmented as it was before planting, and the pattern is
    pasted back afterwards, crisp, at its box.

    Why: augmenting the planted image would resample a one-pixel checkerboard bilinearly at sub-pixel shifts and
    small rotations, which averages its two colours; the model then learns a blurred, tilted pattern that
    striped or textured backgrounds partly match, so gradients point at the background as much as at the patch.
    On the colour clothing imagefolder at the quick profile, Saliency's pointing game on 02's shortcut model was
    0.45 when the planted images were augmented, 0.95 without augmentation, 1.00 this way. The image content is
    augmented exactly as for any other model (the same random draws), so a shortcut model still differs from the
    clean one only in the pattern.
    """
    rows = torch.searchsorted(stamps.index, index).clamp(max=len(stamps.index) - 1)  # stamps.index is sorted
    found = stamps.index[rows] == index
    hits = list(zip(torch.nonzero(found).flatten().tolist(), rows[found].tolist()))
    p = stamps.pattern.shape[-1]
    x = x.clone()
    for b, r in hits:
        top, left = stamps.boxes[r, :2].tolist()
        x[b, :, top:top + p, left:left + p] = stamps.under[r]
    x = augment_batch(x, generator)
    for b, r in hits:
        top, left = stamps.boxes[r, :2].tolist()
        x[b, :, top:top + p, left:left + p] = stamps.pattern
    return x


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int | None = None,
                   device: str | torch.device | None = None) -> torch.Tensor:
    """Logits for ``x`` in eval mode, batched (None: 512 images, fewer for large images, see
    :data:`~.attribution.FORWARD_PIXELS_PER_PASS`), returned on the CPU."""
    if batch_size is None:
        batch_size = images_per_pass(x.shape, 512, FORWARD_PIXELS_PER_PASS)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, **kw) -> float:
    return (predict_logits(model, x, **kw).argmax(1) == y).float().mean().item()


def _fit(model, data: ImageDataset, *, epochs, batch_size, lr, weight_decay, augment, seed, device, progress,
         label, test_every_epoch=True):
    """The training loop: AdamW with a one-cycle schedule, optional affine augmentation (which keeps a planted
    pattern crisp, see :func:`augment_keeping_stamps`). The test split is scored after every epoch, or with
    ``test_every_epoch=False`` after the last one only (scoring draws nothing at random and changes no weight)."""
    gen = torch.Generator().manual_seed(seed)
    x, y = data.train_x, data.train_y
    steps = math.ceil(len(x) / batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, epochs * steps))
    snapshots = [{k: v.detach().cpu().clone() for k, v in model.state_dict().items()}]
    history = []
    mode = progress_mode(progress)
    bar = None
    if mode == "bar":
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs * steps, desc=f"training {label}", unit="batch")
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(x), generator=gen)
        loss_sum, correct = 0.0, 0
        for i in range(steps):
            idx = order[i * batch_size:(i + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            if augment and data.train_stamps is not None:
                xb = augment_keeping_stamps(xb, idx, data.train_stamps, gen)
            elif augment:
                xb = augment_batch(xb, gen)
            xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}")
        model.eval()
        scored = test_every_epoch or epoch == epochs
        record = {"epoch": epoch, "train_loss": loss_sum / len(x), "train_accuracy": correct / len(x),
                  "test_accuracy": accuracy(model, data.test_x, data.test_y, device=device) if scored else None,
                  "seconds": time.perf_counter() - t0}
        history.append(record)
        snapshots.append({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        if mode == "log":
            test = f" test_acc {record['test_accuracy']:.4f}" if scored else ""
            print(f"[train {label}] epoch {epoch}/{epochs} loss {record['train_loss']:.4f} "
                  f"train_acc {record['train_accuracy']:.4f}{test} ({record['seconds']:.1f} s)", flush=True)
    if bar is not None:
        bar.close()
    return history, snapshots


#: The classifier's entries in the model cache are ``classifier-<hash>``.
CACHE_KIND = "classifier"


def code_version() -> str:
    """The code a classifier's weights depend on: this training module and the model modules (any edit there that
    changes what runs may change the weights; a docstring or comment edit does not)."""
    return source_fingerprint(sys.modules[__name__], _models, _captum_ready)


def classifier_config(arch: str, data: ImageDataset, *, epochs: int, batch_size: int, lr: float,
                      weight_decay: float, augment: bool, seed: int, device: torch.device,
                      model_kwargs: dict | None = None, test_every_epoch: bool = True) -> dict:
    """Everything that determines a classifier's weights: the cache key is the hash of this."""
    versions = {}
    if arch.startswith(_models.TORCHVISION_PREFIX):  # the architecture's code lives in torchvision
        import torchvision
        versions["torchvision"] = torchvision.__version__.split("+")[0]
    return {
        **versions, "arch": arch, "model_kwargs": model_kwargs or {}, "dataset": data.name,
        "data_fingerprint": data.fingerprint, "image_shape": list(data.image_shape),
        "num_classes": data.num_classes, "epochs": epochs, "batch_size": batch_size, "lr": lr,
        "weight_decay": weight_decay, "augment": augment, "seed": seed, "device_type": device.type,
        "test_every_epoch": test_every_epoch,  # the stored history differs, the weights do not
        "torch": torch.__version__.split("+")[0], "recipe": RECIPE,
        # CPU float reductions depend on the number of threads, and training amplifies the differences:
        # weights trained with 1 and with 2 threads differ, so they are different cache entries.
        "cpu_threads": torch.get_num_threads() if device.type == "cpu" else None,
        "code": code_version(),
    }


def classifier_settings(config: dict, *, seed: int, device, cache_dir) -> dict:
    """The keyword arguments of :func:`train_classifier` for the study's classifiers under ``config`` (a resolved
    profile): notebook 01's training recipe, used for its two CNNs and for every model another notebook trains
    beside them (the shortcut and planted-concept models, the augmentation classifiers)."""
    return dict(epochs=config["epochs"], batch_size=config["batch_size"], lr=config["lr"],
                weight_decay=config["weight_decay"], augment=config["augment"], seed=seed, device=str(device),
                cache_dir=str(cache_dir))


def train_classifier(arch: str, data: ImageDataset, *, epochs: int, batch_size: int, lr: float,
                     weight_decay: float = 0.0, augment: bool = True, seed: int = 0, device: str = "auto",
                     cache_dir: str = "results/cache", progress: str = "auto",
                     model_kwargs: dict | None = None, init: nn.Module | None = None,
                     init_key: str | None = None, test_every_epoch: bool = True) -> TrainedClassifier:
    """Train (or load from the cache) classifier ``arch`` on ``data``.

    ``test_every_epoch=False`` scores the test split after the last epoch only, for a model whose learning curve
    nobody reads (the planted-shortcut and planted-concept variants, the augmentation classifiers): on a small
    training set, scoring 2,000 test images after each epoch took most of the training time. The weights are the
    same either way; the history's earlier ``test_accuracy`` values are None.

    With ``init`` (a supplied model and ``init_key``, the hash naming its weights), a copy of ``init`` is trained,
    starting from its weights: how the planted-shortcut and planted-concept variants of a user's classifier are
    made; ``arch`` is then only its name."""
    if init is not None and not init_key:
        raise ValueError("init needs init_key, the cache id of its weights (part of the cache key)")
    if init is None and arch not in _models.CLASSIFIERS and not arch.startswith(_models.TORCHVISION_PREFIX):
        raise ValueError(f"unknown classifier architecture {arch!r}; allowed: {', '.join(_models.CLASSIFIERS)} or "
                         f"{_models.TORCHVISION_PREFIX}<a torchvision classifier>")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    dev = resolve_device(device)
    c, h, _ = data.image_shape
    config = classifier_config(arch, data, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                               augment=augment, seed=seed, device=dev, model_kwargs=model_kwargs,
                               test_every_epoch=test_every_epoch)
    if init is not None:
        config["init"] = init_key

    def new_model():
        if init is not None:
            return _captum_ready.clone_classifier(init).cpu()
        return _models.build_classifier(arch, c, data.num_classes, h, **(model_kwargs or {}))

    def _build():
        seed_everything(seed)
        model = new_model().to(dev)
        t0 = time.perf_counter()
        history, snapshots = _fit(model, data, epochs=epochs, batch_size=batch_size, lr=lr,
                                  weight_decay=weight_decay, augment=augment, seed=seed, device=dev,
                                  progress=progress, label=arch, test_every_epoch=test_every_epoch)
        seconds = time.perf_counter() - t0
        meta = {"history": history, "train_seconds": seconds,
                "test_accuracy": history[-1]["test_accuracy"], "n_train": len(data.train_x)}
        return {"model": snapshots[-1], "snapshots": snapshots}, meta

    tensors, meta, key, hit = _cache.cached(cache_dir, CACHE_KIND, config, lambda: with_global_rng_restored(_build, dev))
    if hit:
        print(f"[cache] loaded {arch} classifier {key} (trained in {meta['train_seconds']:.1f} s, "
              f"no training steps)", file=sys.stdout, flush=True)
    model = new_model()
    model.load_state_dict(tensors["model"])
    model.to(dev).eval()
    return TrainedClassifier(model=model, arch=arch, key=key, from_cache=hit, history=meta["history"],
                             snapshots=tensors["snapshots"], meta=meta)
