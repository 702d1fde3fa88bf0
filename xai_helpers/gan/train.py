"""DCGAN training with the non-saturating loss, logged so the generator–discriminator dynamics can be read.

``train_gan`` returns a :class:`TrainedGAN`: both networks in eval mode, the log (one record every
``log_every`` iterations: losses, mean D outputs, gradient and weight norms per network and per layer, each
averaged over the window) and weight snapshots of both networks at iteration 0, every ``snapshot_every``
iterations and at the end, so the dynamics can be replayed (fidelity over training, discriminator
explanations) without retraining. Everything is cached by the hash of what determines the weights.

With ``info_codes > 0`` it trains the InfoGAN variant (Chen et al. 2016): the first ``info_codes`` entries of z are
U(−1, 1) codes, and both G and the discriminator's Q head minimise ``info_weight`` × MSE(Q(G(z)), c), the
variational lower bound on I(c; G(z)) for a fixed-variance Gaussian Q (up to constants).

A non-finite loss or gradient stops training at once, before the optimiser step that would spread it into the
weights: the run is marked diverged, with the reason and the iteration, and keeps the snapshots taken before
it (each snapshot is also checked to be finite). Nothing is silently carried on.
"""
from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..data import ImageDataset
from ..study import cache as _cache, resolve_device, seed_everything, source_fingerprint, with_global_rng_restored
from . import infogan_cr as _infogan_cr
from . import models as _gan_models
from . import training_loop as _training_loop

#: Version tag of the recipe; the source hash in the key catches code edits, this documents intent.
RECIPE = "dcgan-nonsaturating-adam-v1"  # + InfoGAN MSE code term when info_codes > 0


@dataclass(kw_only=True)
class TrainedGAN(_cache.CachedTraining):
    """A trained GAN; its ``snapshots`` are ``[{"iteration": int, "generator": state_dict, "discriminator":
    state_dict}, ...]``, in order."""

    generator: nn.Module
    discriminator: nn.Module

    @property
    def z_dim(self) -> int:
        return self.generator.z_dim

    @property
    def num_classes(self) -> int:
        """0 for an unconditional GAN, else the number of classes it is conditioned on."""
        return self.generator.num_classes

    @property
    def code_dim(self) -> int:
        """How many leading entries of z are InfoGAN codes (0 for a plain GAN)."""
        return self.generator.code_dim

    @property
    def diverged(self) -> bool:
        return bool(self.meta["diverged"])

    @property
    def divergence(self) -> str | None:
        return self.meta["divergence"]

    @property
    def iterations_done(self) -> int:
        return int(self.meta["iterations_done"])

    def networks_at(self, snapshot: dict) -> tuple[nn.Module, nn.Module]:
        """Fresh (G, D) copies in eval mode holding the weights of one snapshot."""
        g, d = copy.deepcopy(self.generator), copy.deepcopy(self.discriminator)
        g.load_state_dict(snapshot["generator"])
        d.load_state_dict(snapshot["discriminator"])
        return g.eval(), d.eval()


def to_gan_range(images01: torch.Tensor) -> torch.Tensor:
    """[0, 1] images (the data sets' range) → [-1, 1] (the generator's tanh range)."""
    return images01 * 2 - 1


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] generator output → [0, 1], clamped."""
    return ((images + 1) / 2).clamp(0, 1)


def balanced_labels(n: int, num_classes: int) -> torch.Tensor | None:
    """Labels 0, 1, …, 0, 1, … for ``n`` samples of a conditional generator of ``num_classes`` classes (balanced);
    None for an unconditional one (``num_classes`` 0)."""
    return torch.arange(n) % num_classes if num_classes else None


def fixed_noise(z_dim: int, n: int, seed: int, num_classes: int = 0,
                code_dim: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The same ``n`` latents (and, for a conditional GAN, balanced labels 0, 1, …) for every snapshot."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    z = _gan_models.sample_latent(z_dim, n, gen, code_dim)
    return z, balanced_labels(n, num_classes)


@torch.no_grad()
def generate(generator: nn.Module, n: int, seed: int, batch_size: int = 500,
             labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` samples in [0, 1] (on the CPU) from latents drawn with ``seed``; a conditional generator gets
    ``labels`` or, if none are given, balanced labels in random order. Returns ``(images, labels)``."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    gen = torch.Generator().manual_seed(seed)
    z = _gan_models.sample_latent(generator.z_dim, n, gen, getattr(generator, "code_dim", 0))
    if generator.num_classes and labels is None:
        labels = (torch.arange(n) % generator.num_classes)[torch.randperm(n, generator=gen)]
    return decode(generator, z, labels, batch_size), labels


@torch.no_grad()
def decode(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
           batch_size: int = 500) -> torch.Tensor:
    """G(z) in [0, 1] on the CPU, in eval mode (batch norm uses its running statistics), batch by batch."""
    if z.ndim != 2 or z.shape[1] != generator.z_dim:
        raise ValueError(f"z must be (N, {generator.z_dim}), got {tuple(z.shape)}")
    if labels is not None and len(labels) != len(z):
        raise ValueError(f"{len(labels)} labels for {len(z)} samples")
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    out = []
    for i in range(0, len(z), batch_size):
        zb = z[i:i + batch_size].to(device)
        x = generator(zb) if labels is None else generator(zb, labels[i:i + batch_size].to(device))
        out.append(to_unit_range(x).cpu())
    generator.train(was_training)
    return torch.cat(out)


#: The GAN's entries in the model cache are ``gan-<hash>``.
CACHE_KIND = "gan"


def code_version() -> str:
    """The code a GAN's weights depend on: this module, the training loop, the models and the InfoGAN-CR terms."""
    return source_fingerprint(sys.modules[__name__], _training_loop, _gan_models, _infogan_cr)


def gan_config(data: ImageDataset, *, iterations: int, batch_size: int, z_dim: int, width: int, lr_g: float,
               lr_d: float, beta1: float, conditional: bool, log_every: int, snapshot_every: int, seed: int,
               device: torch.device, info_codes: int = 0, info_weight: float = 1.0, cr_weight: float = 0.0) -> dict:
    """Everything that determines the GAN's weights and its stored log: the cache key is the hash of this."""
    return {
        "arch": "dcgan", "dataset": data.name, "data_fingerprint": data.fingerprint,
        "image_shape": list(data.image_shape), "num_classes": data.num_classes, "iterations": iterations,
        "batch_size": batch_size, "z_dim": z_dim, "width": width, "lr_g": lr_g, "lr_d": lr_d, "beta1": beta1,
        "conditional": conditional, "info_codes": info_codes, "info_weight": info_weight if info_codes else None,
        "cr_weight": cr_weight if cr_weight else None,
        "log_every": log_every, "snapshot_every": snapshot_every, "seed": seed,
        "device_type": device.type, "torch": torch.__version__.split("+")[0], "recipe": RECIPE,
        "cpu_threads": torch.get_num_threads() if device.type == "cpu" else None,
        "code": code_version(),
    }


def _positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def gan_settings(config: dict, *, conditional: bool, seed: int, device, cache_dir) -> dict:
    """The keyword arguments of :func:`train_gan` for notebook 04's GAN under ``config`` (a resolved profile): 05 and
    06 use the same, so they explain and evaluate 04's GAN (one cache entry), and 06 trains its per-regime GANs with
    the same recipe."""
    return dict(iterations=config["gan_iterations"], batch_size=config["gan_batch_size"], z_dim=config["gan_z_dim"],
                width=config["gan_width"], lr_g=config["gan_lr"], lr_d=config["gan_lr"], conditional=conditional,
                log_every=config["gan_log_every"], snapshot_every=config["gan_snapshot_every"], seed=seed,
                device=str(device), cache_dir=str(cache_dir))


def shapes_gan_settings(config: dict, *, info_codes: int, seed: int, device, cache_dir) -> dict:
    """The keyword arguments of :func:`train_gan` for 05's GANs on ``shapes`` under ``config``: the DCGAN
    (``info_codes=0``) and the disentangling InfoGAN(-CR) with ``info_codes`` codes. One snapshot at the end: 05
    and the explorer read only the trained generator."""
    return dict(iterations=config["shapes_gan_iterations"], batch_size=config["shapes_gan_batch_size"],
                z_dim=config["shapes_z_dim"], width=config["shapes_gan_width"], lr_g=config["shapes_gan_lr"],
                lr_d=config["shapes_gan_lr"], log_every=config["gan_log_every"],
                snapshot_every=config["shapes_gan_iterations"], seed=seed, device=str(device),
                cache_dir=str(cache_dir), info_codes=info_codes, info_weight=config["info_weight"],
                cr_weight=config["cr_weight"] if info_codes else 0.0)


def train_gan(data: ImageDataset, *, iterations: int, batch_size: int = 64, z_dim: int = 64, width: int = 32,
              lr_g: float = 2e-4, lr_d: float = 2e-4, beta1: float = 0.5, conditional: bool = False,
              log_every: int = 10, snapshot_every: int = 100, seed: int = 0, device: str = "auto",
              cache_dir: str = "results/cache", progress: str = "auto", info_codes: int = 0,
              info_weight: float = 1.0, cr_weight: float = 0.0) -> TrainedGAN:
    """Train (or load from the cache) a DCGAN on ``data``'s training split; ``info_codes > 0`` makes it InfoGAN,
    and ``cr_weight > 0`` with it InfoGAN-CR (:mod:`xai_helpers.gan.infogan_cr`)."""
    for name, value in (("iterations", iterations), ("batch_size", batch_size), ("z_dim", z_dim),
                        ("width", width), ("log_every", log_every), ("snapshot_every", snapshot_every)):
        _positive_int(name, value)
    for name, value in (("lr_g", lr_g), ("lr_d", lr_d)):
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    if not isinstance(info_codes, int) or isinstance(info_codes, bool) or not 0 <= info_codes <= z_dim:
        raise ValueError(f"info_codes must be an int in [0, z_dim={z_dim}], got {info_codes!r}")
    if info_codes and not info_weight > 0:
        raise ValueError(f"info_weight must be positive for an InfoGAN, got {info_weight!r}")
    if not cr_weight >= 0 or (cr_weight and (info_codes < 2 or conditional)):
        raise ValueError(f"cr_weight = {cr_weight!r} is not allowed here: InfoGAN-CR's contrastive term needs an "
                         f"unconditional InfoGAN with at least 2 codes (info_codes = {info_codes}, conditional = "
                         f"{conditional}); use cr_weight 0 otherwise")
    if not 0 <= beta1 < 1:
        raise ValueError(f"beta1 must be in [0, 1), got {beta1!r}")
    if batch_size > len(data.train_x):
        raise ValueError(f"batch_size {batch_size} exceeds the {len(data.train_x)} training images")
    c, h_size, _ = data.image_shape
    if h_size != data.image_shape[2] or h_size not in _gan_models.GAN_SIDES:
        raise ValueError(f"the DCGAN handles {' and '.join(f'{s}×{s}' for s in _gan_models.GAN_SIDES)} images; "
                         f"{data.name} has {h_size}×{data.image_shape[2]} (resize them with "
                         f"xai_helpers.gan.resized_for_gan)")
    dev = resolve_device(device)
    config = gan_config(data, iterations=iterations, batch_size=batch_size, z_dim=z_dim, width=width, lr_g=lr_g,
                        lr_d=lr_d, beta1=beta1, conditional=conditional, log_every=log_every,
                        snapshot_every=snapshot_every, seed=seed, device=dev, info_codes=info_codes,
                        info_weight=info_weight, cr_weight=cr_weight)
    n_cond = data.num_classes if conditional else 0

    def new_networks():
        return (_gan_models.DCGANGenerator(z_dim, c, h_size, width, n_cond, info_codes),
                _gan_models.DCGANDiscriminator(c, h_size, width, n_cond, info_codes))

    def _build():
        seed_everything(seed)
        g, d = new_networks()
        g.apply(_gan_models.dcgan_init)
        d.apply(_gan_models.dcgan_init)
        g.to(dev).train()
        d.to(dev).train()
        h = _infogan_cr.PairClassifier(c, info_codes, width).to(dev).train() if cr_weight else None
        t0 = time.perf_counter()
        history, snapshots, divergence, done = _training_loop.fit(
            g, d, to_gan_range(data.train_x), data.train_y, data.num_classes, iterations=iterations, batch_size=batch_size, lr_g=lr_g, lr_d=lr_d, beta1=beta1,
            conditional=conditional, log_every=log_every, snapshot_every=snapshot_every, seed=seed, device=dev,
            progress=progress, info_weight=info_weight, h=h, cr_weight=cr_weight)
        meta = {"history": history, "train_seconds": time.perf_counter() - t0, "diverged": divergence is not None,
                "divergence": divergence, "iterations_done": done, "n_train": len(data.train_x),
                "snapshot_iterations": [s["iteration"] for s in snapshots]}
        last = snapshots[-1]
        return {"generator": last["generator"], "discriminator": last["discriminator"],
                "snapshots": snapshots}, meta

    tensors, meta, key, hit = _cache.cached(cache_dir, CACHE_KIND, config, lambda: with_global_rng_restored(_build, dev))
    if hit:
        print(f"[cache] loaded DCGAN {key} (trained in {meta['train_seconds']:.1f} s, no training steps)",
              flush=True)
    g, d = new_networks()
    g.load_state_dict(tensors["generator"])
    d.load_state_dict(tensors["discriminator"])
    return TrainedGAN(generator=g.to(dev).eval(), discriminator=d.to(dev).eval(), key=key, from_cache=hit,
                      history=meta["history"], snapshots=tensors["snapshots"], meta=meta)
