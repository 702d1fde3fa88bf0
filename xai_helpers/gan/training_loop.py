"""The DCGAN training loop of :func:`~xai_helpers.gan.train.train_gan`, step by step: batches, the discriminator's
and the generator's optimiser steps, the log averaged over windows, weight snapshots, and the checks that stop
training at the first non-finite loss, gradient or weight."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..study import progress_mode
from . import models as _gan_models
from .infogan_cr import contrastive_loss


def fit(g, d, x_all: torch.Tensor, y_all: torch.Tensor, num_classes: int, *, iterations, batch_size, lr_g, lr_d,
        beta1, conditional, log_every, snapshot_every, seed, device, progress, info_weight=0.0, h=None, cr_weight=0.0):
    """The DCGAN loop over ``x_all`` (images in the GAN's range [−1, 1]): one D step on a real and a generated batch
    (BatchNorm sees them apart, as in Radford et al.), then one G step on the non-saturating loss −log D(G(z))
    (+ the InfoGAN code term, + with a pair classifier ``h`` InfoGAN-CR's contrastive term, which ``h`` minimises
    too). Returns ``(history, snapshots, divergence or None, iterations done)``."""
    gen = torch.Generator().manual_seed(seed)
    steps = _Steps(g, d, h, lr_g=lr_g, lr_d=lr_d, beta1=beta1, info_weight=info_weight, cr_weight=cr_weight,
                   batch_size=batch_size, device=device, gen=gen)
    keep = set(snapshot_iterations(iterations, snapshot_every))
    snapshots = [_snapshot(g, d, 0)]
    history: list[dict] = []
    divergence = None
    window = _Window()
    batches = _Batches(len(x_all), gen)
    mode = progress_mode(progress)
    bar = _progress_bar(iterations) if mode == "bar" else None
    t0 = time.perf_counter()
    it = 0
    for it in range(1, iterations + 1):
        idx = batches.next(batch_size)
        real = x_all[idx].to(device)
        y_real = y_all[idx].to(device) if conditional else None
        z = _gan_models.sample_latent(g.z_dim, batch_size, gen, g.code_dim).to(device)
        y_fake = torch.randint(0, num_classes, (batch_size,), generator=gen).to(device) if conditional else None
        d_out = steps.discriminator(real, y_real, z, y_fake, it)
        if divergence := d_out.divergence:
            break
        g_out = steps.generator(d_out.fake, z, y_fake, it)
        if divergence := g_out.divergence:
            break
        window.add(d_loss=d_out.loss, g_loss=g_out.loss,
                   d_real=torch.sigmoid(d_out.logit_real).mean().item(),
                   d_fake=torch.sigmoid(d_out.logit_fake).mean().item(),
                   d_fake_after_d_step=torch.sigmoid(g_out.logit_gen).mean().item(),
                   grad_norm_d=_total(d_out.grads), grad_norm_g=_total(g_out.grads),
                   grad_norm_d_layers=d_out.grads, grad_norm_g_layers=g_out.grads, **g_out.extra)
        if it % log_every == 0 or it == iterations:
            history.append(_window_record(g, d, it, batches.epochs, window, t0))
            window = _Window()
            if mode == "log" and (len(history) % max(1, iterations // log_every // 10) == 0 or it == iterations):
                _print_record(history[-1], iterations)
        if it in keep:
            if not (_finite_state(g) and _finite_state(d)):
                divergence = f"non-finite weights after iteration {it}; training stopped"
                break
            snapshots.append(_snapshot(g, d, it))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(d_loss=f"{d_out.loss:.3f}", g_loss=f"{g_out.loss:.3f}")
    if bar is not None:
        bar.close()
    if divergence:
        it -= 1  # the failing iteration did not complete; its (partial) update is not kept anywhere
        if window.n:  # the completed iterations of the unfinished window
            history.append({"iteration": it, "epoch": batches.epochs, **window.means(),
                            "seconds": time.perf_counter() - t0})
        print(f"[train dcgan] DIVERGED: {divergence}", flush=True)
    return history, snapshots, divergence, it


class _Batches:
    """Indices of the training images in shuffled batches, reshuffled (with ``gen``) when the next batch would not
    fit: the incomplete tail batch of an epoch is skipped."""

    def __init__(self, n: int, gen: torch.Generator):
        self.n, self.gen = n, gen
        self.order, self.pos, self.epoch = torch.randperm(n, generator=gen), 0, 0

    def next(self, batch_size: int) -> torch.Tensor:
        if self.pos + batch_size > len(self.order):
            self.order, self.pos, self.epoch = torch.randperm(self.n, generator=self.gen), 0, self.epoch + 1
        idx = self.order[self.pos:self.pos + batch_size]
        self.pos += batch_size
        return idx

    @property
    def epochs(self) -> float:
        """Epochs done, as a fraction."""
        return self.epoch + self.pos / self.n


@dataclass
class _StepResult:
    loss: float
    grads: dict[str, float]
    divergence: str | None
    fake: torch.Tensor | None = None
    logit_real: torch.Tensor | None = None
    logit_fake: torch.Tensor | None = None
    logit_gen: torch.Tensor | None = None
    extra: dict = field(default_factory=dict)  # what only some variants log (InfoGAN's code loss, InfoGAN-CR's terms)


class _Steps:
    """The two optimiser steps of one iteration, with the networks' optimisers (Adam, as in Radford et al.)."""

    def __init__(self, g, d, h, *, lr_g, lr_d, beta1, info_weight, cr_weight, batch_size, device, gen):
        self.g, self.d, self.h = g, d, h
        self.opt_g = torch.optim.Adam(g.parameters(), lr=lr_g, betas=(beta1, 0.999))
        self.opt_h = torch.optim.Adam(h.parameters(), lr=lr_g, betas=(beta1, 0.999)) if h is not None else None
        self.opt_d = torch.optim.Adam(d.parameters(), lr=lr_d, betas=(beta1, 0.999))
        self.info_weight, self.cr_weight = info_weight, cr_weight
        self.batch_size, self.device, self.gen = batch_size, device, gen
        self.ones = torch.ones(batch_size, device=device)
        self.zeros = torch.zeros(batch_size, device=device)

    def discriminator(self, real, y_real, z, y_fake, it: int) -> _StepResult:
        """Maximise log D(x) + log(1 − D(G(z))) (+ the InfoGAN code term for Q); no step when it diverged."""
        g, d = self.g, self.d
        fake = g(z, y_fake)
        logit_real = d(real, y_real)
        if g.code_dim:
            logit_fake, q_fake = d.forward_with_codes(fake.detach(), y_fake)
            info_d = F.mse_loss(q_fake, z[:, :g.code_dim])
        else:
            logit_fake, info_d = d(fake.detach(), y_fake), None
        loss = (F.binary_cross_entropy_with_logits(logit_real, self.ones)
                + F.binary_cross_entropy_with_logits(logit_fake, self.zeros))
        if info_d is not None:
            loss = loss + self.info_weight * info_d
        value, grads, divergence = _backward("discriminator", d, self.opt_d, loss, it)
        if not divergence:
            self.opt_d.step()
        return _StepResult(value, grads, divergence, fake=fake, logit_real=logit_real, logit_fake=logit_fake)

    def generator(self, fake, z, y_fake, it: int) -> _StepResult:
        """Non-saturating: maximise log D(G(z)) (Goodfellow et al. 2014, §3), + the InfoGAN code term, + InfoGAN-CR's
        contrastive term, which G and the pair classifier H both minimise; no step when it diverged."""
        g, d, h = self.g, self.d, self.h
        extra = {}
        if g.code_dim:
            logit_gen, q_gen = d.forward_with_codes(fake, y_fake)
            info_g = F.mse_loss(q_gen, z[:, :g.code_dim])
            loss = F.binary_cross_entropy_with_logits(logit_gen, self.ones) + self.info_weight * info_g
            extra["info_loss"] = info_g.item()
        else:
            logit_gen = d(fake, y_fake)
            loss = F.binary_cross_entropy_with_logits(logit_gen, self.ones)
        if h is not None:
            cr_loss, cr_accuracy = contrastive_loss(g, h, self.batch_size, self.gen, self.device)
            loss = loss + self.cr_weight * cr_loss
            extra.update(cr_loss=cr_loss.item(), cr_accuracy=cr_accuracy)
            self.opt_h.zero_grad(set_to_none=True)
        value, grads, divergence = _backward("generator", g, self.opt_g, loss, it)
        if not divergence:
            self.opt_g.step()
            if h is not None:
                self.opt_h.step()
        return _StepResult(value, grads, divergence, logit_gen=logit_gen, extra=extra)


def _snapshot(g, d, it: int) -> dict:
    return {"iteration": it,
            "generator": {k: v.detach().cpu().clone() for k, v in g.state_dict().items()},
            "discriminator": {k: v.detach().cpu().clone() for k, v in d.state_dict().items()}}


def _window_record(g, d, it: int, epochs: float, window: "_Window", t0: float) -> dict:
    """One record of the log: the window's means and the weight norms now."""
    w_d, w_g = _layer_norms(d, grads=False), _layer_norms(g, grads=False)
    return {"iteration": it, "epoch": epochs, **window.means(),
            "weight_norm_d": _total(w_d), "weight_norm_g": _total(w_g),
            "weight_norm_d_layers": w_d, "weight_norm_g_layers": w_g,
            "seconds": time.perf_counter() - t0}


def _print_record(record: dict, iterations: int) -> None:
    print(f"[train dcgan] it {record['iteration']}/{iterations} D loss {record['d_loss']:.3f} G loss "
          f"{record['g_loss']:.3f} D(x) {record['d_real']:.3f} D(G(z)) {record['d_fake']:.3f} "
          f"({record['seconds']:.1f} s)", flush=True)


def _progress_bar(iterations: int):
    from tqdm.auto import tqdm

    return tqdm(total=iterations, desc="training DCGAN", unit="it")


def _layer_norms(model: nn.Module, grads: bool) -> dict[str, float]:
    """L2 norm per layer (module that owns parameters), of the weights or of their gradients."""
    layers, squares = [], []
    for name, p in model.named_parameters():
        t = p.grad if grads else p
        if t is not None:
            layers.append(name.rsplit(".", 1)[0])
            squares.append(t.detach().pow(2).sum())
    sums: dict[str, float] = {}
    for layer, sq in zip(layers, torch.stack(squares).tolist()):  # one device→host copy, not one per tensor
        sums[layer] = sums.get(layer, 0.0) + sq
    return {k: math.sqrt(v) for k, v in sums.items()}


def _finite_state(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point())


def _total(norms: dict[str, float]) -> float:
    return math.sqrt(sum(v * v for v in norms.values()))


class _Window:
    """Running means of every logged quantity over one logging window."""

    def __init__(self):
        self.sums: dict = {}
        self.n = 0

    def add(self, **values):
        for k, v in values.items():
            if isinstance(v, dict):
                inner = self.sums.setdefault(k, {})
                for name, x in v.items():
                    inner[name] = inner.get(name, 0.0) + x
            else:
                self.sums[k] = self.sums.get(k, 0.0) + v
        self.n += 1

    def means(self) -> dict:
        return {k: ({n: x / self.n for n, x in v.items()} if isinstance(v, dict) else v / self.n)
                for k, v in self.sums.items()}


def _non_finite(network: str, loss: float, grads: dict[str, float], iteration: int) -> str | None:
    """Why this step must not be taken (a non-finite loss or gradient norm), or None."""
    if not math.isfinite(loss):
        return f"non-finite {network} loss ({loss}) at iteration {iteration}; training stopped"
    bad = [layer for layer, v in grads.items() if not math.isfinite(v)]
    if bad:
        return f"non-finite {network} gradient in {', '.join(bad)} at iteration {iteration}; training stopped"
    return None


def _backward(network: str, model: nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor, iteration: int):
    """Gradients of ``loss`` for ``model``: ``(loss value, gradient norm per layer, why not to step or None)``."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    value, grads = loss.item(), _layer_norms(model, grads=True)
    return value, grads, _non_finite(network, value, grads, iteration)


def snapshot_iterations(iterations: int, snapshot_every: int) -> list[int]:
    """0, every ``snapshot_every`` iterations, and the last iteration."""
    if snapshot_every < 1:
        raise ValueError(f"snapshot_every must be a positive int, got {snapshot_every!r}")
    return sorted(set(range(0, iterations + 1, snapshot_every)) | {iterations})
