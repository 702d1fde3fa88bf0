"""Explaining one generated image back to its latent code: Integrated Gradients through the generator.

For a classifier f and a generator G, the composite ``F(z) = f_c(G(z))`` (class c's logit on the generated
image) is an ordinary differentiable function of z, so Integrated Gradients (Sundararajan et al. 2017)
attributes it to the latent dimensions:

    IG_i(z) = (z_i − z'_i) ∫₀¹ ∂F(z' + α(z − z')) / ∂z_i dα,   with completeness   Σ_i IG_i = F(z) − F(z').

The baseline z' = 0 is the prior's mean (the "average" latent). captum computes the integral with a
Gauss–Legendre rule; the completeness error |Σ IG − (F(z) − F(z'))| / |F(z) − F(z')| says whether the number of
steps was enough for this path — it is reported, never assumed.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn


class ClassifierOnGenerator(nn.Module):
    """z → classifier logits on G(z), the generator's [-1, 1] output mapped to the classifier's [0, 1] without
    clamping (tanh already bounds it; a clamp would zero gradients at the ends)."""

    def __init__(self, generator: nn.Module, classifier: nn.Module, labels: torch.Tensor | None = None):
        super().__init__()
        self.generator, self.classifier, self.labels = generator.eval(), classifier.eval(), labels

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.labels is None:
            x = self.generator(z)
        else:  # captum repeats inputs along the batch for its integration steps: repeat the labels alike
            x = self.generator(z, self.labels.repeat(len(z) // len(self.labels)))
        return self.classifier((x + 1) / 2)


def latent_integrated_gradients(generator: nn.Module, classifier: nn.Module, z: torch.Tensor, target,
                                labels: torch.Tensor | None = None, n_steps: int = 128,
                                baseline: torch.Tensor | None = None) -> dict:
    """IG of the classifier's ``target`` logit on G(z) w.r.t. z, per latent: attributions (N, D) and completeness.

    Returns ``{"attributions", "delta" (F(z) − F(z')), "completeness_err" (N,) relative, "max_completeness_err"}``.
    """
    from captum.attr import IntegratedGradients

    if z.ndim != 2 or z.shape[1] != generator.z_dim:
        raise ValueError(f"z must be (N, {generator.z_dim}), got {tuple(z.shape)}")
    if not isinstance(n_steps, int) or n_steps < 2:
        raise ValueError(f"n_steps must be an int ≥ 2, got {n_steps!r}")
    composite = ClassifierOnGenerator(generator, classifier, labels)
    device = next(generator.parameters()).device
    z = z.to(device)
    base = torch.zeros_like(z) if baseline is None else baseline.to(device).expand_as(z)
    target = torch.as_tensor(target, device=device).expand(len(z)) if torch.as_tensor(target).ndim == 0 \
        else torch.as_tensor(target, device=device)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="captum")
        attr = IntegratedGradients(composite).attribute(z, base, target=target, n_steps=n_steps,
                                                        internal_batch_size=len(z) * n_steps)
    with torch.no_grad():
        rows = torch.arange(len(z), device=device)
        delta = composite(z)[rows, target] - composite(base)[rows, target]
    err = (attr.sum(1) - delta).abs() / delta.abs().clamp_min(1e-8)
    return {"attributions": attr.detach().cpu(), "delta": delta.cpu(), "completeness_err": err.cpu(),
            "max_completeness_err": float(err.max())}
