"""What the training scrubber shows, computed without widgets: at one stored snapshot of notebook 04's GAN, the
samples of the fixed latents, the training log up to that iteration (and what came after, for context), and what
the discriminator looks at on a few real and generated images, explained as 04 explains it.

Everything is read from the GAN's log and weight snapshots: scrubbing replays training, it never retrains."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..cnn import probe_indices
from ..data import stratified_subset
from ..gan import (D_METHODS, TrainedGAN, batchnorm_as_in_training, decode, discriminator_explanations, fixed_noise,
                   generate, to_gan_range)

#: Whose evidence D's maps show: ``own`` explains each kind of image by what D should call it (real images by the
#: evidence for "real", generated ones by the evidence for "generated"), as notebook 04 does.
EVIDENCE = ("own", "real", "generated")
#: The quantities of the log the scrubber plots (losses and mean D outputs, as 04's loss panels).
LOSSES = ("d_loss", "g_loss")
OUTPUTS = ("d_real", "d_fake", "d_fake_after_d_step")
#: Notebook 04's sample grid: rows per class (conditional GAN) or columns (unconditional), and its largest size.
GRID_SIDE, GRID_MAX = 8, 64


def grid_size(gan: TrainedGAN, num_classes: int) -> tuple[int, int]:
    """(samples, columns) of 04's sample grid: :data:`GRID_SIDE` rows of one column per class for a conditional GAN,
    else :data:`GRID_SIDE` columns and :data:`GRID_SIDE` samples per class of the data, at most :data:`GRID_MAX`."""
    columns = gan.num_classes or GRID_SIDE
    n = GRID_SIDE * gan.num_classes if gan.num_classes else min(GRID_MAX, GRID_SIDE * num_classes)
    return n, columns


def snapshot_choices(gan: TrainedGAN) -> list[tuple[str, int]]:
    """(label, index) per stored snapshot, the label being its training iteration."""
    return [(str(snap["iteration"]), i) for i, snap in enumerate(gan.snapshots)]


def check_snapshot(gan: TrainedGAN, index: int) -> dict:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(gan.snapshots):
        raise ValueError(f"snapshot index {index!r} is not allowed: this GAN stored {len(gan.snapshots)} snapshots, so "
                         f"expected an integer in [0, {len(gan.snapshots) - 1}]")
    return gan.snapshots[int(index)]


def history_split(frame: pd.DataFrame, iteration: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The log's windows that ended by ``iteration`` (what training had seen at that snapshot) and those after."""
    seen = frame.index <= iteration
    return frame[seen], frame[~seen]


def window_at(frame: pd.DataFrame, iteration: int) -> dict | None:
    """The last logged window ending at or before ``iteration`` (losses and mean D outputs), or None before the
    first window."""
    seen, _ = history_split(frame, iteration)
    if not len(seen):
        return None
    row = seen.iloc[-1]
    return {"iteration": int(seen.index[-1]), **{k: float(row[k]) for k in LOSSES + OUTPUTS if k in row}}


def samples_at(gan: TrainedGAN, index: int, n: int, seed: int) -> torch.Tensor:
    """G's images in [0, 1] of 04's fixed latents (the same at every snapshot) at snapshot ``index``."""
    if n < 1:
        raise ValueError(f"number of samples {n!r} is not allowed: expected a positive integer")
    generator, _ = gan.networks_at(check_snapshot(gan, index))
    z, labels = fixed_noise(gan.z_dim, n, seed, gan.num_classes, gan.code_dim)
    return decode(generator, z, labels)


def explained_real(test_x: torch.Tensor, test_y: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """04's real images for D's maps: the first test image of class 0, 1, 2, …, and their labels."""
    shown = probe_indices(test_y, n)
    return test_x[shown], test_y[shown]


def batchnorm_batch(train_x: torch.Tensor, train_y: torch.Tensor, size: int,
                    seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """04's class-balanced batch of real training images that sets D's batch-norm statistics for real images."""
    pick = stratified_subset(train_y, size, seed=seed)
    return train_x[pick], train_y[pick]


def discriminator_view(gan: TrainedGAN, index: int, real: tuple[torch.Tensor, torch.Tensor],
                       batchnorm_real: tuple[torch.Tensor, torch.Tensor], *, n: int, evidence: str = "own",
                       method: str = "grad_cam", seed: int = 0, ig_steps: int = 32) -> dict:
    """What D looks at in snapshot ``index``: ``{"real": ..., "generated": ...}``, each with ``images`` (n, C, H,
    W), ``maps`` (n, H, W), ``d_output`` (n,: D's sigmoid on each image) and ``evidence`` (whose evidence the map
    shows).

    As in notebook 04, D's batch norm gets the statistics of a batch of the kind it explains (real images: a
    class-balanced training batch; generated ones: a batch of this snapshot's G), the batch-norm D saw in training;
    the generated images are G's images of 04's fixed latents."""
    if evidence not in EVIDENCE:
        raise ValueError(f"evidence {evidence!r} is not allowed: expected one of {', '.join(EVIDENCE)}")
    if method not in D_METHODS:
        raise ValueError(f"method {method!r} is not allowed: expected one of {', '.join(D_METHODS)}")
    if not 1 <= n <= len(real[0]):
        raise ValueError(f"number of explained images {n!r} is not allowed: expected an integer in "
                         f"[1, {len(real[0])}]")
    generator, discriminator = gan.networks_at(check_snapshot(gan, index))
    z, z_labels = fixed_noise(gan.z_dim, n, seed, gan.num_classes, gan.code_dim)
    generated = decode(generator, z, z_labels)
    batch = len(batchnorm_real[0])
    batchnorm_fake = generate(generator, batch, seed + 1)  # 04's batch of this G for D's generated statistics
    conditional = bool(gan.num_classes)
    out = {}
    for kind, images, labels, (bn_images, bn_labels) in (
            ("real", real[0][:n], real[1][:n], batchnorm_real), ("generated", generated, z_labels, batchnorm_fake)):
        labels, bn_labels = (labels, bn_labels) if conditional else (None, None)
        d = batchnorm_as_in_training(discriminator, to_gan_range(bn_images), bn_labels)
        said = kind if evidence == "own" else evidence
        maps = discriminator_explanations(d, images, labels, evidence=said, methods=(method,), ig_steps=ig_steps)
        device = next(d.parameters()).device
        with torch.no_grad():
            logits = d(to_gan_range(images).to(device), None if labels is None else labels.to(device))
        out[kind] = {"images": images, "maps": maps[method], "d_output": torch.sigmoid(logits).cpu().numpy(),
                     "evidence": said}
    return out


def training_record(view: dict) -> dict:
    """The numbers of a scrubber view as plain JSON types (the export)."""
    return {
        "snapshot": view["snapshot"], "iteration": view["iteration"], "gan_checkpoint": view["checkpoint"],
        "diverged": view["diverged"], "divergence": view["divergence"], "window": view["window"],
        "n_samples": int(len(view["samples"])), "method": view["method"],
        "discriminator": {kind: {"evidence": part["evidence"], "d_output": np.asarray(part["d_output"]).tolist()}
                          for kind, part in view["discriminator"].items()},
        "log_until_snapshot": {k: view["history"][k].tolist() for k in LOSSES + OUTPUTS if k in view["history"]},
        "log_iterations": [int(i) for i in view["history"].index],
    }
