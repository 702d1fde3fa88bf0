"""A factor regressor for ``shapes``: reads the generative factors back from an image.

GAN samples have no labels, but disentanglement metrics need the factors of each sample. We train a small CNN
on real ``shapes`` images, whose factors are known, and read the factors of generated images with it; its
held-out error says how far those read-outs can be trusted.

Targets. ``shape`` is a class (cross-entropy). ``scale``, ``pos_x`` and ``pos_y`` are regressed (MSE on the
data set's [0, 1] ranges, scale mapped from [0.5, 1]). Orientation is only defined up to each shape's symmetry
(a square repeats every 90°, an ellipse every 180°, a triangle every 120°), so the regressor predicts
(cos kθ, sin kθ) with k the shape's order of symmetry, and the read-out is the orientation *phase*
φ = (kθ mod 2π) / 2π ∈ [0, 1): the part of the orientation an image actually shows.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..cnn import conv_block
from ..data import SHAPE_NAMES, ImageDataset
from ..study import (cache as _cache, progress_mode, resolve_device, seed_everything, source_fingerprint,
                     with_global_rng_restored)

#: Rotational symmetry order of each shape of :data:`xai_helpers.data.SHAPE_NAMES` (square, ellipse, triangle).
SYMMETRY_ORDER = (4, 2, 3)
#: The read-out factors, in this order; ``shape`` is categorical.
READOUT_FACTORS = ("shape", "scale", "orientation", "pos_x", "pos_y")


class FactorRegressor(nn.Module):
    """Three conv stages on a 32×32 image → shape logits (3) and (scale, cos kθ, sin kθ, x, y)."""

    def __init__(self, width: int = 16, num_shapes: int = len(SHAPE_NAMES)):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *conv_block(1, w), nn.AvgPool2d(2), *conv_block(w, 2 * w), nn.AvgPool2d(2),
            *conv_block(2 * w, 4 * w), nn.AvgPool2d(2))
        self.hidden = nn.Sequential(nn.Linear(4 * w * 16, 128), nn.ReLU())
        self.shape_head = nn.Linear(128, num_shapes)
        self.value_head = nn.Linear(128, 5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(self.features(x).flatten(1))
        return self.shape_head(h), self.value_head(h)


def targets(factors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ground-truth factors (N, 5: shape, scale, θ, x, y) → (shape class, (scale01, cos kθ, sin kθ, x, y))."""
    shape = factors[:, 0].long()
    order = torch.tensor(SYMMETRY_ORDER, dtype=factors.dtype)[shape]
    k_theta = order * factors[:, 2]
    scale01 = (factors[:, 1] - 0.5) / 0.5
    return shape, torch.stack([scale01, torch.cos(k_theta), torch.sin(k_theta), factors[:, 3], factors[:, 4]], 1)


def true_readouts(factors: torch.Tensor) -> pd.DataFrame:
    """The ground-truth factors in read-out form (orientation as its phase), to compare with :func:`read_factors`."""
    shape, values = targets(factors)
    return _frame(shape.numpy(), values.numpy())


def _frame(shape: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    phase = np.mod(np.arctan2(values[:, 2], values[:, 1]), 2 * np.pi) / (2 * np.pi)
    return pd.DataFrame({"shape": shape.astype(np.float64), "scale": 0.5 + 0.5 * values[:, 0].astype(np.float64),
                         "orientation": phase.astype(np.float64), "pos_x": values[:, 3].astype(np.float64),
                         "pos_y": values[:, 4].astype(np.float64)}, columns=list(READOUT_FACTORS))


@torch.no_grad()
def read_factors(model: nn.Module, images01: torch.Tensor, batch_size: int = 500) -> pd.DataFrame:
    """The factors the regressor reads from images in [0, 1] (N, 1, 32, 32): one row per image."""
    if images01.ndim != 4 or images01.shape[1:] != (1, 32, 32):
        raise ValueError(f"the factor regressor reads (N, 1, 32, 32) shapes images, got {tuple(images01.shape)}")
    model.eval()
    device = next(model.parameters()).device
    shapes, values = [], []
    for i in range(0, len(images01), batch_size):
        logits, v = model(images01[i:i + batch_size].to(device))
        shapes.append(logits.argmax(1).cpu())
        values.append(v.cpu())
    return _frame(torch.cat(shapes).numpy(), torch.cat(values).numpy())


def readout_errors(predicted: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Held-out quality of the read-outs: shape accuracy, R² of scale / x / y, mean circular error of the phase."""
    out = {"shape_accuracy": float((predicted["shape"] == truth["shape"]).mean())}
    for col in ("scale", "pos_x", "pos_y"):
        resid = ((predicted[col] - truth[col]) ** 2).sum()
        total = ((truth[col] - truth[col].mean()) ** 2).sum()
        out[f"{col}_r2"] = float(1 - resid / total)
    d = np.abs(predicted["orientation"] - truth["orientation"]) % 1.0
    out["orientation_phase_error"] = float(np.minimum(d, 1 - d).mean())  # in turns; 0.25 = chance
    return out


def _fit(model, data, *, epochs, batch_size, lr, seed, device, progress):
    gen = torch.Generator().manual_seed(seed)
    shape_all, values_all = targets(data.train_factors)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * (len(data.train_x) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    mode = progress_mode(progress)
    bar = None
    if mode == "bar":
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc="training factor regressor", unit="batch")
    losses = []
    for epoch in range(epochs):
        order = torch.randperm(len(data.train_x), generator=gen)
        total = 0.0
        for i in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[i:i + batch_size]
            logits, values = model(data.train_x[idx].to(device))
            loss = F.cross_entropy(logits, shape_all[idx].to(device)) + F.mse_loss(values, values_all[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
            if bar is not None:
                bar.update(1)
        losses.append(total / (len(order) // batch_size))
        if mode == "log":
            print(f"[train factor regressor] epoch {epoch + 1}/{epochs} loss {losses[-1]:.4f}", flush=True)
    if bar is not None:
        bar.close()
    return losses


#: The regressor's entries in the model cache are ``factor-regressor-<hash>``.
CACHE_KIND = "factor-regressor"


def code_version() -> str:
    """The code the regressor's weights depend on: this module and the model code it builds on (conv_block)."""
    return source_fingerprint(sys.modules[__name__], conv_block)


def train_factor_regressor(data: ImageDataset, *, epochs: int = 6, batch_size: int = 64, lr: float = 3e-3,
                           width: int = 16, seed: int = 0, device: str = "auto", cache_dir: str = "results/cache",
                           progress: str = "auto"):
    """Train (or load from the cache) the regressor on ``shapes``' training split.

    Returns ``(model in eval mode, meta)``; ``meta["test"]`` holds :func:`readout_errors` on the test split."""
    if data.train_factors is None or tuple(data.factor_names) != ("shape", "scale", "orientation", "pos_x", "pos_y"):
        raise ValueError(f"the factor regressor needs the shapes data set with its factors, got {data.name!r}")
    if data.image_shape != (1, 32, 32):
        raise ValueError(f"the factor regressor reads 32×32 shapes images, got {data.image_shape}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("width", width)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    dev = resolve_device(device)
    config = {"arch": "factor-regressor", "dataset": data.name, "data_fingerprint": data.fingerprint,
              "epochs": epochs, "batch_size": batch_size, "lr": lr, "width": width, "seed": seed,
              "device_type": dev.type, "torch": torch.__version__.split("+")[0],
              "cpu_threads": torch.get_num_threads() if dev.type == "cpu" else None,
              "code": code_version()}

    def _build():
        seed_everything(seed)
        model = FactorRegressor(width).to(dev).train()
        t0 = time.perf_counter()
        losses = _fit(model, data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=dev,
                      progress=progress)
        seconds = time.perf_counter() - t0
        test = readout_errors(read_factors(model, data.test_x), true_readouts(data.test_factors))
        return {"model": model.state_dict()}, {"losses": losses, "train_seconds": seconds, "test": test}

    tensors, meta, key, hit = _cache.cached(cache_dir, CACHE_KIND, config,
                                            lambda: with_global_rng_restored(_build, dev))
    if hit:
        print(f"[cache] loaded factor regressor {key} (trained in {meta['train_seconds']:.1f} s)", flush=True)
    model = FactorRegressor(width)
    model.load_state_dict(tensors["model"])
    return model.to(dev).eval(), dict(meta, key=key, from_cache=hit)

