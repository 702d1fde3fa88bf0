"""Allowed values of the study's parameters, in one place, checked before anything runs.

papermill injects whatever it is given: ``-p n_explain -5`` used to start a notebook that ran for minutes and
then failed (or, worse, produced numbers from an empty selection). Every numeric parameter a notebook
declares, and every numeric profile knob, has an :class:`Allowed` entry here. The runner checks ``-p`` values
against it before the first notebook starts (exit status 2), and :func:`xai_helpers.study.config.resolve_config`
checks the merged configuration again, so a notebook run on its own refuses the same values with the same
message. A test requires every numeric notebook parameter to have an entry.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class ParameterError(ValueError):
    """A parameter value outside its allowed range; the message names the value and what is allowed."""


@dataclass(frozen=True)
class Allowed:
    """The allowed values of one parameter: an int or float in an interval (ends open or closed), one of a few
    choices, or a non-empty list of floats in an interval. ``None`` is allowed where it means "the profile's
    value" (or "no limit")."""

    kind: str  # "int", "float", "bool" or "list"
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple = ()
    none: bool = True

    def describe(self) -> str:
        noun = {"int": "an integer", "float": "a number", "bool": "true or false",
                "list": "a non-empty list of numbers"}[self.kind]
        if self.choices:
            text = f"one of {', '.join(map(str, self.choices))}"
        else:
            lo = None if self.low is None else ("> " if self.open_low else "≥ ") + f"{self.low:g}"
            hi = None if self.high is None else ("< " if self.open_high else "≤ ") + f"{self.high:g}"
            if lo and hi and self.kind != "list":
                left = "(" if self.open_low else "["
                right = ")" if self.open_high else "]"
                text = f"{noun} in {left}{self.low:g}, {self.high:g}{right}"
            elif lo and hi:
                text = f"{noun}, each in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}" \
                       f"{')' if self.open_high else ']'}"
            else:
                text = f"{noun} {lo or hi}" if (lo or hi) else noun
        return text + (" (or None: the profile's value)" if self.none else "")

    def _in_interval(self, v: float) -> bool:
        if not math.isfinite(v):
            return False
        if self.low is not None and (v < self.low or (self.open_low and v == self.low)):
            return False
        if self.high is not None and (v > self.high or (self.open_high and v == self.high)):
            return False
        return True

    def admits(self, value: Any) -> bool:
        if value is None:
            return self.none
        if self.kind == "bool" or isinstance(value, bool):
            return self.kind == "bool" and isinstance(value, bool)
        if self.kind == "list":
            return (isinstance(value, (list, tuple)) and len(value) > 0
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) and self._in_interval(float(v))
                            for v in value))
        if self.kind == "int" and not isinstance(value, int):
            return False
        if self.kind == "float" and not isinstance(value, (int, float)):
            return False
        if self.choices:
            return value in self.choices
        return self._in_interval(float(value))


COUNT = Allowed("int", 1)  # how many images, samples, steps, epochs, ...
POSITIVE = Allowed("float", 0, open_low=True)  # learning rates
NON_NEGATIVE = Allowed("float", 0)
SHARE = Allowed("float", 0, 1, none=False)  # a rate, a fraction, a threshold on a correlation or an accuracy

#: Every numeric parameter of a notebook and every numeric profile knob (several names share a rule).
ALLOWED: dict[str, Allowed] = {
    # run-wide
    "seed": Allowed("int", 0, none=False),
    "image_size": Allowed("int", 8, 512, none=False),
    "channels": Allowed("int", choices=(1, 3), none=False),
    # a supplied classifier's input normalisation (xai_helpers.study.model_parameters checks the rest)
    "model_mean": Allowed("list"), "model_std": Allowed("list", 0, open_low=True),
    # the classifier (01, and every notebook that uses 01's classifier)
    "epochs": COUNT, "batch_size": COUNT, "lr": POSITIVE, "weight_decay": NON_NEGATIVE, "augment": Allowed("bool"),
    "train_limit": COUNT, "test_limit": COUNT, "n_probe": COUNT,
    # 02: attribution
    "n_explain": COUNT, "n_sensitivity": COUNT, "n_sanity": COUNT, "ig_steps": COUNT, "smoothgrad_samples": COUNT,
    "lime_samples": COUNT, "deletion_steps": Allowed("int", 2), "am_steps": COUNT,
    "attenuation_channels": Allowed("int", 2),
    "shortcut_class": Allowed("int", 0), "patch_size": Allowed("int", 1), "sanity_threshold": SHARE,
    # 03: TCAV (a CAV is trained on a held-out split, and the paired test needs 3 kept draws)
    "set_size": Allowed("int", 4), "tcav_set_size": Allowed("int", 4),
    "n_random_sets": Allowed("int", 3), "tcav_random_sets": Allowed("int", 3),
    "n_controls": Allowed("int", 0), "tcav_controls": Allowed("int", 0),
    "n_class_images": COUNT, "tcav_class_images": COUNT,
    "min_cav_accuracy": SHARE, "alpha": Allowed("float", 0, 1, open_low=True, open_high=True, none=False),
    "target_class": Allowed("int", 0), "pattern_size": Allowed("int", 1),
    "planting_rates": Allowed("list", 0, 1, none=False),
    # 04: GAN training and fidelity
    "gan_iterations": COUNT, "gan_batch_size": Allowed("int", 2), "gan_lr": POSITIVE, "gan_width": COUNT,
    "gan_z_dim": COUNT, "gan_log_every": COUNT, "gan_snapshot_every": COUNT,
    "fid_samples": Allowed("int", 2), "kid_subsets": COUNT, "d_explain_images": COUNT,
    # 05: latent space
    "latent_samples": COUNT, "fd_samples": COUNT, "direction_count": COUNT, "interfacegan_samples": Allowed("int", 4),
    "rescoring_samples": Allowed("int", 2), "latent_ig_steps": COUNT, "latent_ig_images": COUNT,
    "dissection_samples": COUNT, "dissection_top_k": COUNT, "dissection_random": COUNT,
    "shapes_gan_iterations": COUNT, "shapes_gan_batch_size": Allowed("int", 2), "shapes_gan_width": COUNT,
    "shapes_gan_lr": POSITIVE, "shapes_z_dim": COUNT, "info_codes": Allowed("int", 0), "info_weight": NON_NEGATIVE,
    "cr_weight": NON_NEGATIVE,
    "regressor_epochs": COUNT, "disentangle_samples": Allowed("int", 10), "dislib_estimators": COUNT,
    # 06: evaluation
    "augment_synthetic": COUNT, "rating_images": COUNT,
    "low_data_fraction": Allowed("float", 0, 1, open_low=True, none=False),
}

#: Parameters that are sizes in pixels and must fit inside the image.
PIXEL_SIZES = ("patch_size", "pattern_size")


def check_value(name: str, value: Any) -> None:
    """Raise :class:`ParameterError` naming ``name``, ``value`` and what is allowed, if ``value`` is not allowed.
    Names without an entry are not checked here (strings, booleans: the notebooks check their choices)."""
    rule = ALLOWED.get(name)
    if rule is not None and not rule.admits(value):
        raise ParameterError(f"{name} = {value!r} is not allowed: expected {rule.describe()}")


def check_values(values: dict[str, Any]) -> None:
    """:func:`check_value` for every item, then the relations between them that are known here."""
    for name, value in values.items():
        check_value(name, value)
    codes, z_dim = values.get("info_codes"), values.get("shapes_z_dim")
    if codes is not None and z_dim is not None and codes > z_dim:
        raise ParameterError(f"info_codes = {codes!r} is not allowed: the InfoGAN's codes are among its "
                             f"shapes_z_dim = {z_dim} latents, so expected an integer in [0, {z_dim}]")


def check_fits_image(values: dict[str, Any], image_side: int | None) -> None:
    """Refuse pixel sizes (the planted patch and pattern) that do not fit an ``image_side``-pixel image."""
    if image_side is None:
        return
    for name in PIXEL_SIZES:
        size = values.get(name)
        if isinstance(size, int) and size > image_side:
            raise ParameterError(f"{name} = {size!r} is not allowed: the images are {image_side}×{image_side} "
                                 f"pixels, so expected an integer in [1, {image_side}]")
