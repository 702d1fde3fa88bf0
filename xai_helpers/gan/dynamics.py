"""Generator–discriminator dynamics, read from a trained GAN's log and snapshots.

- :func:`history_frame`: the training log as a table (one row per logged window);
- :func:`evaluate_snapshots`: fidelity, class histogram and coverage of each snapshot's generator;
- :func:`diagnose`: divergence, discriminator dominance and mode collapse, each with the evidence;
- :func:`describe_phases`: the run told in sentences computed from the numbers;
- :func:`discriminator_explanations`: what D looks at (Saliency, Integrated Gradients, Grad-CAM) on real and
  generated images, and how much of it falls on the strokes; :func:`discriminator_over_training` at chosen
  snapshots.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import nn

from ..cnn import explain, heatmap
from ..study import progress_mode
from .fidelity import class_coverage, class_histogram, fidelity_metrics
from .train import TrainedGAN, generate, to_gan_range, to_unit_range

#: Thresholds of :func:`diagnose` (documented there).
DOMINANCE_D_REAL, DOMINANCE_D_FAKE, DOMINANCE_SHARE = 0.9, 0.1, 0.2
COLLAPSE_KL = 0.5


#: The scalar columns every log has (also when a run diverged before its first record).
LOG_COLUMNS = ("epoch", "d_loss", "g_loss", "d_real", "d_fake", "d_fake_after_d_step", "grad_norm_d", "grad_norm_g",
               "weight_norm_d", "weight_norm_g", "seconds")


def history_frame(history: list[dict]) -> pd.DataFrame:
    """Scalars of the log, one row per window, indexed by iteration; per-layer norms become columns
    ``<quantity>/<layer>``. An empty log gives an empty frame with the standard columns."""
    if not history:
        return pd.DataFrame(columns=list(LOG_COLUMNS), index=pd.Index([], name="iteration", dtype=int), dtype=float)
    rows = []
    for record in history:
        row = {}
        for k, v in record.items():
            if isinstance(v, dict):
                row.update({f"{k.removesuffix('_layers')}/{layer}": x for layer, x in v.items()})
            else:
                row[k] = v
        rows.append(row)
    return pd.DataFrame(rows).set_index("iteration")


def evaluate_snapshots(gan: TrainedGAN, classifier: nn.Module, real01: torch.Tensor, extractor: str, *,
                       num_classes: int, n_samples: int, seed: int, kid_subsets: int = 50,
                       progress: str = "auto") -> pd.DataFrame:
    """Per snapshot: fidelity metrics against ``real01`` and the classifier's class histogram of
    ``n_samples`` generated images (the same latents at every snapshot)."""
    rows = []
    snapshots = gan.snapshots
    mode = progress_mode(progress)
    if mode == "bar":
        from tqdm.auto import tqdm
        snapshots = tqdm(snapshots, desc="fidelity over training", unit="snapshot")
    for snap in snapshots:
        g, _ = gan.networks_at(snap)
        fake, _ = generate(g, n_samples, seed)
        hist = class_histogram(classifier, fake, num_classes)
        row = {"iteration": snap["iteration"]}
        row.update(fidelity_metrics(fake, real01, extractor, kid_subsets=kid_subsets, seed=seed))
        row.update(class_coverage(hist))
        row.update({f"share/{c}": h / n_samples for c, h in enumerate(hist)})
        rows.append(row)
        if mode == "log":
            print(f"[fidelity] snapshot {snap['iteration']}: FID {row['fid']:.3g}, {row['classes_covered']} classes",
                  flush=True)
    return pd.DataFrame(rows).set_index("iteration")


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of True in ``mask``."""
    best, start = (0, 0), None
    for i, m in enumerate(list(mask) + [False]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            if i - start > best[1]:
                best = (start, i - start)
            start = None
    return best


def diagnose(gan: TrainedGAN, over_training: pd.DataFrame | None = None, num_classes: int | None = None) -> dict:
    """What went wrong, if anything, with the evidence.

    - ``diverged``: a non-finite loss stopped training (from the training loop).
    - ``discriminator_dominates``: mean D(x) > 0.9 and mean D(G(z)) < 0.1 in consecutive logged windows spanning
      at least 20 % of training: D separates real from fake almost perfectly, so the generator's gradient is
      weak (the failure the non-saturating loss mitigates but does not remove).
    - ``mode_collapse``: at some snapshot in the second half of training, KL(class histogram ‖ uniform)
      exceeds 0.5 nats or fewer than half of the classes are covered.
    """
    frame = history_frame(gan.history) if gan.history else pd.DataFrame()
    out: dict = {"diverged": gan.diverged, "divergence": gan.divergence}
    if len(frame):
        mask = ((frame["d_real"] > DOMINANCE_D_REAL) & (frame["d_fake"] < DOMINANCE_D_FAKE)).to_numpy()
        start, length = _longest_run(mask)
        iters = frame.index.to_numpy()
        span = length / len(frame)
        out["discriminator_dominates"] = bool(span >= DOMINANCE_SHARE)
        out["dominance_longest"] = ({"from_iteration": int(iters[start]), "to_iteration": int(iters[start + length - 1]),
                                     "share_of_training": float(span)} if length else None)
    else:
        out["discriminator_dominates"], out["dominance_longest"] = False, None
    if over_training is not None and len(over_training):
        k = num_classes or sum(c.startswith("share/") for c in over_training.columns)
        last_iter = over_training.index.max()
        late = over_training[over_training.index >= last_iter / 2]
        bad = late[(late["class_kl"] > COLLAPSE_KL) | (late["classes_covered"] < k / 2)]
        out["mode_collapse"] = bool(len(bad))
        out["mode_collapse_iterations"] = [int(i) for i in bad.index]
    else:
        out["mode_collapse"], out["mode_collapse_iterations"] = False, []
    out["healthy"] = not (out["diverged"] or out["discriminator_dominates"] or out["mode_collapse"])
    return out


def describe_phases(gan: TrainedGAN, over_training: pd.DataFrame, diagnosis: dict) -> list[str]:
    """The run in a few sentences, every figure computed from the log and the snapshot table."""
    frame = history_frame(gan.history)
    lines = []
    if diagnosis["diverged"]:
        lines.append(f"Training diverged: {diagnosis['divergence']}. The last sound snapshot is iteration "
                     f"{gan.snapshots[-1]['iteration']}; everything after it was discarded.")
    if len(frame):
        first = frame.iloc[0]
        lines.append(f"Start (iterations 1–{frame.index[0]}): D(x) {first['d_real']:.2f}, D(G(z)) "
                     f"{first['d_fake']:.2f}, D loss {first['d_loss']:.2f}, G loss {first['g_loss']:.2f}.")
        gap = frame["d_real"] - frame["d_fake"]
        peak = int(gap.idxmax())
        when = ("early, as is usual while G still draws noise" if peak < frame.index[-1] / 3
                else "late in training")
        lines.append(f"The discriminator's lead D(x) − D(G(z)) peaks at {gap.max():.2f} at iteration {peak}, {when}.")
    else:
        lines.append("No logging window was completed, so there are no dynamics to describe.")
    fids = over_training["fid"]
    start, end, best = float(fids.iloc[0]), float(fids.iloc[-1]), float(fids.min())
    if end < start:
        done = fids[fids <= start - 0.9 * (start - best)]
        lines.append(f"FID falls from {start:.3g} at initialisation to {end:.3g} at the end (best {best:.3g}); "
                     f"90 % of the way to its best is reached by iteration {int(done.index[0])}.")
    else:
        lines.append(f"FID did not improve: {start:.3g} at initialisation, {end:.3g} at the end.")
    cov = over_training["classes_covered"]
    k = sum(c.startswith("share/") for c in over_training.columns)
    full = cov[cov == k]
    if len(full) and (cov.loc[full.index[0]:] == k).all():
        lines.append(f"All {k} classes are covered from iteration {int(full.index[0])} on.")
    else:
        lines.append(f"Classes covered at the end: {int(cov.iloc[-1])} of {k} (most at any snapshot: {int(cov.max())}).")
    late = frame[frame.index >= frame.index[-1] / 2] if len(frame) else frame
    if len(late) > 1:
        verdict = ("no failure was detected: the game oscillates but stays stable" if diagnosis["healthy"]
                   else "see the warnings below")
        lines.append(f"Second half: D(x) {late['d_real'].mean():.2f} ± {late['d_real'].std():.2f}, D(G(z)) "
                     f"{late['d_fake'].mean():.2f} ± {late['d_fake'].std():.2f}, G loss {late['g_loss'].mean():.2f} ± "
                     f"{late['g_loss'].std():.2f}; {verdict}.")
    if diagnosis["discriminator_dominates"]:
        d = diagnosis["dominance_longest"]
        lines.append(f"Warning: D dominated from iteration {d['from_iteration']} to {d['to_iteration']} "
                     f"({d['share_of_training']:.0%} of training).")
    if diagnosis["mode_collapse"]:
        lines.append(f"Warning: the class histogram collapsed at iterations {diagnosis['mode_collapse_iterations']}.")
    if diagnosis["healthy"]:
        lines.append("No divergence, no lasting discriminator dominance, no class collapse was detected.")
    return lines


class DiscriminatorLogit(nn.Module):
    """``sign`` × D's logit as a one-column output (N, 1), so attribution methods can take ``target=0``
    (``sign=-1``: the evidence for "generated"); for a conditional D the labels are bound at construction
    (one label for all images, or one per image)."""

    def __init__(self, discriminator: nn.Module, labels: torch.Tensor | None = None, sign: float = 1.0):
        super().__init__()
        if sign not in (1.0, -1.0):
            raise ValueError(f"sign must be 1 or -1, got {sign!r}")
        self.discriminator = discriminator
        self.labels = labels
        self.sign = sign

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = None
        if self.labels is not None:
            y = self.labels.to(x.device)
            if y.ndim == 0:
                y = y.expand(len(x))
            elif len(x) != len(y):
                # Path methods (Integrated Gradients) stack whole copies of the batch, one per step.
                if len(x) % len(y):
                    raise ValueError(f"{len(x)} inputs for {len(y)} bound labels")
                y = y.repeat(len(x) // len(y))
        return self.sign * self.discriminator(x, y).unsqueeze(1)

    @property
    def cam_layer(self) -> nn.Module:
        return self.discriminator.cam_layer


D_METHODS = ("saliency", "integrated_gradients", "grad_cam")


def discriminator_explanations(discriminator: nn.Module, images01: torch.Tensor, labels: torch.Tensor | None = None,
                               evidence: str = "real", methods=D_METHODS,
                               ig_steps: int = 32) -> dict[str, torch.Tensor]:
    """``{method: (N, H, W) non-negative maps}`` of D's evidence on [0, 1] images: for ``evidence="real"`` the
    logit ℓ(x), for ``"generated"`` its negative, so each set is explained by what makes D call it what it is
    (Grad-CAM keeps only positive evidence; Saliency and |IG| do not depend on the sign).

    D sees images in [-1, 1]; Integrated Gradients integrates from a black image (−1 there), so pixels that are
    black in x get no attribution from it by construction. For a conditional D pass the images' labels (all
    images are then explained in one batch with their own label).
    """
    if evidence not in ("real", "generated"):
        raise ValueError(f"evidence must be 'real' or 'generated', got {evidence!r}")
    wrapped = DiscriminatorLogit(discriminator, labels, 1.0 if evidence == "real" else -1.0).eval()
    x = to_gan_range(images01)
    maps = {}
    for method in methods:
        options = {"n_steps": ig_steps, "baseline": -1.0} if method == "integrated_gradients" else {}
        if labels is not None and labels.ndim == 1:
            # bound per-image labels must stay aligned with their images: one batch
            maps[method] = heatmap(explain(wrapped, x, 0, method, batch_size=len(x), **options))
        else:
            maps[method] = heatmap(explain(wrapped, x, 0, method, **options))
    return maps


def ink_share(maps: torch.Tensor, images01: torch.Tensor, threshold: float = 0.5) -> np.ndarray:
    """Per image, the share of the map's mass on ink pixels (image value > ``threshold``), and the share a
    uniform map would put there (the ink area) for reference: returns (N, 2). An all-zero map (Grad-CAM finds no
    positive evidence) has no share: NaN, so it cannot pass for "looks at the background"."""
    ink = (images01.mean(1) > threshold).float()
    total = maps.flatten(1).sum(1)
    share = (maps * ink).flatten(1).sum(1) / total.clamp_min(1e-12)
    share[total <= 0] = float("nan")
    return np.stack([share.numpy(), ink.flatten(1).mean(1).numpy()], 1)


@torch.no_grad()
def batchnorm_as_in_training(discriminator: nn.Module, images: torch.Tensor,
                             labels: torch.Tensor | None = None) -> nn.Module:
    """A copy of D whose batch-norm statistics are those of ``images`` (in D's [-1, 1] range), in eval mode
    (equal to train mode on that batch up to the unbiased-variance factor n/(n−1) of running statistics).

    In training, D's batch norm always normalises a batch that is all real or all generated with that batch's
    own statistics; its running averages mix both kinds. Explaining real images with statistics set on real
    images (and generated ones on generated) gives the function D computed on them in training, and keeps each
    image's output independent of the others (no cross-image gradients, as train mode would have).
    """
    d = copy.deepcopy(discriminator)
    for m in d.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the forward passes below
    d.train()
    device = next(d.parameters()).device
    d(images.to(device), None if labels is None else labels.to(device))
    return d.eval()


def map_rank_similarity(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean Spearman correlation between paired maps (N, H, W): how much the explanation changed."""
    # A constant map (e.g. an all-zero Grad-CAM) has no ranks: such pairs are skipped; NaN if none is left.
    rhos = [spearmanr(x.flatten().numpy(), y.flatten().numpy())[0] for x, y in zip(a, b)
            if x.std() > 0 and y.std() > 0]
    return float(np.mean(rhos)) if rhos else float("nan")


def discriminator_over_training(gan: TrainedGAN, picks: list[int], real: tuple, real_bn: tuple, noise: tuple, *,
                                batch_size: int, seed: int, ig_steps: int, device) -> tuple[dict, dict, pd.DataFrame]:
    """What D looks at in the snapshots ``picks`` (indices into ``gan.snapshots``): on the real test images
    ``real`` = (images, labels) and on what that snapshot's generator makes from ``noise`` = (z, labels or None).

    Each kind is explained with batch-norm statistics of a batch of that kind, as D had them in training
    (:func:`batchnorm_as_in_training`: ``real_bn`` = (images, labels) of training data, a generated batch of
    ``batch_size`` drawn with ``seed + 1``). Returns ``(images, maps, table)``: ``images["real"]`` and
    ``images["generated"][iteration]``; ``maps[kind][iteration][method]``; one table row per iteration, kind and
    method with the share of the map on ink (:func:`ink_share`, NaN where every map is empty), the ink area and D's
    mean output on the batch-norm batch."""
    (real_images, real_labels), (z, y) = real, noise
    images, maps, rows = {"real": real_images, "generated": {}}, {"real": {}, "generated": {}}, []
    cond = (lambda t: t) if gan.num_classes else (lambda t: None)
    for i in picks:
        snap = gan.snapshots[i]
        it = snap["iteration"]
        g_snap, d_snap = gan.networks_at(snap)
        with torch.no_grad():
            generated = to_unit_range(g_snap(z.to(device), None if y is None else y.to(device))).cpu()
            bn_fake = generate(g_snap, batch_size, seed + 1)
        images["generated"][it] = generated
        for kind, shown, labels, (bn_images, bn_labels) in (("real", real_images, real_labels, real_bn),
                                                            ("generated", generated, y, bn_fake)):
            d_kind = batchnorm_as_in_training(d_snap, to_gan_range(bn_images), cond(bn_labels))
            maps[kind][it] = discriminator_explanations(d_kind, shown, cond(labels), evidence=kind, ig_steps=ig_steps)
            with torch.no_grad():
                d_mean = torch.sigmoid(d_kind(to_gan_range(bn_images).to(device), None if cond(bn_labels) is None
                                              else bn_labels.to(device))).mean().item()
            rows += [_ink_row(it, kind, method, ink_share(m, shown), d_mean) for method, m in maps[kind][it].items()]
    return images, maps, pd.DataFrame(rows)


def _ink_row(iteration: int, kind: str, method: str, share: np.ndarray, d_mean: float) -> dict:
    return {"iteration": iteration, "images": kind, "method": method,
            "ink_share": np.nanmean(share[:, 0]) if np.isfinite(share[:, 0]).any() else np.nan,
            "empty_maps": int(np.isnan(share[:, 0]).sum()), "ink_area": share[:, 1].mean(), "mean_D_output": d_mean}
