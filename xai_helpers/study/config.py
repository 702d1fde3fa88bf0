"""Profiles: the named scales of the study, in one place.

A profile is a plain dict of knobs. Notebooks call :func:`resolve_config` with the profile name and any
explicit parameters; explicit values (anything not ``None``) win over the profile's. The environment variable
``XAI_PROFILE`` replaces the *default* profile (the tests use it to run committed notebooks at smoke scale);
an explicitly named profile always wins over it.
"""
from __future__ import annotations

import os
from typing import Any

from .parameters import check_values

DEFAULT_PROFILE = "quick"

#: smoke: seconds per notebook (tests); quick: minutes on a 2-core laptop CPU; paper: full scale (GPU);
#: course (below): the teaching assignments.
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "epochs": 2,
        "batch_size": 64,
        "lr": 3e-3,
        "weight_decay": 1e-4,
        "augment": True,
        "train_limit": 800,
        "test_limit": 300,
        "n_probe": 4,
        "n_explain": 8,
        "n_sensitivity": 2,
        "n_sanity": 2,
        "ig_steps": 8,
        "smoothgrad_samples": 4,
        "lime_samples": 20,
        "deletion_steps": 7,
        "am_steps": 10,
        "attenuation_channels": 16,
        "tcav_set_size": 10,
        "tcav_random_sets": 5,
        "tcav_controls": 1,
        "tcav_class_images": 20,
        "gan_iterations": 60,
        "gan_batch_size": 32,
        "gan_lr": 5e-4,
        "gan_width": 16,
        "gan_z_dim": 32,
        "gan_log_every": 5,
        "gan_snapshot_every": 20,
        "fid_samples": 200,
        "kid_subsets": 10,
        "d_explain_images": 4,
        "latent_samples": 8,
        "fd_samples": 2,
        "direction_count": 2,
        "interfacegan_samples": 200,
        "rescoring_samples": 16,
        "latent_ig_steps": 64,
        "latent_ig_images": 2,
        "dissection_samples": 64,
        "dissection_top_k": 2,
        "dissection_random": 3,
        "shapes_gan_iterations": 40,
        "shapes_gan_batch_size": 32,
        "shapes_gan_width": 8,
        "shapes_gan_lr": 0.0002,
        "shapes_z_dim": 5,
        "info_codes": 5,
        "info_weight": 1.0,
        "cr_weight": 1.0,
        "regressor_epochs": 1,
        "disentangle_samples": 600,
        "dislib_estimators": 5,
        "augment_synthetic": 200,
        "rating_images": 4,
    },
    "quick": {
        "epochs": 10,
        "batch_size": 64,
        "lr": 3e-3,
        "weight_decay": 1e-4,
        "augment": True,
        "train_limit": 12000,
        "test_limit": 2000,
        "n_probe": 8,
        "n_explain": 64,
        "n_sensitivity": 8,
        "n_sanity": 8,
        "ig_steps": 32,
        "smoothgrad_samples": 16,
        "lime_samples": 100,
        "deletion_steps": 28,
        "am_steps": 150,
        "attenuation_channels": 64,
        "tcav_set_size": 50,
        "tcav_random_sets": 20,
        "tcav_controls": 2,
        "tcav_class_images": 100,
        "gan_iterations": 3000,
        "gan_batch_size": 32,
        "gan_lr": 5e-4,
        "gan_width": 32,
        "gan_z_dim": 64,
        "gan_log_every": 10,
        "gan_snapshot_every": 300,
        "fid_samples": 1000,
        "kid_subsets": 50,
        "d_explain_images": 8,
        "latent_samples": 64,
        "fd_samples": 4,
        "direction_count": 3,
        "interfacegan_samples": 2000,
        "rescoring_samples": 128,
        "latent_ig_steps": 512,
        "latent_ig_images": 4,
        "dissection_samples": 500,
        "dissection_top_k": 4,
        "dissection_random": 10,
        "shapes_gan_iterations": 1500,
        "shapes_gan_batch_size": 32,
        "shapes_gan_width": 32,
        "shapes_gan_lr": 0.0002,
        "shapes_z_dim": 5,
        "info_codes": 5,
        "info_weight": 1.0,
        "cr_weight": 1.0,
        "regressor_epochs": 3,
        "disentangle_samples": 3000,
        "dislib_estimators": 25,
        "augment_synthetic": 2000,
        "rating_images": 12,
    },
    "paper": {
        "epochs": 30,
        "batch_size": 128,
        "lr": 2e-3,
        "weight_decay": 1e-4,
        "augment": True,
        "train_limit": None,
        "test_limit": None,
        "n_probe": 12,
        "n_explain": 500,
        "n_sensitivity": 64,
        "n_sanity": 32,
        "ig_steps": 64,
        "smoothgrad_samples": 50,
        "lime_samples": 500,
        "deletion_steps": 56,
        "am_steps": 400,
        "attenuation_channels": 256,
        "tcav_set_size": 50,
        "tcav_random_sets": 25,
        "tcav_controls": 1,
        "tcav_class_images": 500,
        "gan_iterations": 20000,
        "gan_batch_size": 64,
        "gan_lr": 2e-4,
        "gan_width": 64,
        "gan_z_dim": 100,
        "gan_log_every": 20,
        "gan_snapshot_every": 1000,
        "fid_samples": 10000,
        "kid_subsets": 100,
        "d_explain_images": 16,
        "latent_samples": 256,
        "fd_samples": 8,
        "direction_count": 5,
        "interfacegan_samples": 10000,
        "rescoring_samples": 500,
        "latent_ig_steps": 1024,
        "latent_ig_images": 8,
        "dissection_samples": 2000,
        "dissection_top_k": 4,
        "dissection_random": 20,
        "shapes_gan_iterations": 10000,
        "shapes_gan_batch_size": 64,
        "shapes_gan_width": 64,
        "shapes_gan_lr": 0.0002,
        "shapes_z_dim": 5,
        "info_codes": 5,
        "info_weight": 1.0,
        "cr_weight": 1.0,
        "regressor_epochs": 10,
        "disentangle_samples": 10000,
        "dislib_estimators": 100,
        "augment_synthetic": 20000,
        "rating_images": 24,
    },
}


#: course: the teaching assignments (course/), each of which must run in at most 2 minutes on 2 CPU cores from an
#: empty cache: smoke's scale, with classifiers trained long enough that their explanations are worth reading.
PROFILES["course"] = {
    **PROFILES["smoke"],
    "epochs": 3,
    "train_limit": 4000,
    "test_limit": 1000,
    "ig_steps": 32,
    "deletion_steps": 14,
    "gan_iterations": 600,
    "gan_log_every": 10,
    "gan_snapshot_every": 200,
    "fid_samples": 500,
}


def profile_name(profile: str | None = "default") -> str:
    """The profile to use: ``profile`` if named, else ``$XAI_PROFILE``, else :data:`DEFAULT_PROFILE`."""
    if profile in (None, "", "default"):
        profile = os.environ.get("XAI_PROFILE") or DEFAULT_PROFILE
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILES)}")
    return profile


def resolve_config(profile: str | None = "default", **overrides: Any) -> dict[str, Any]:
    """The profile's knobs with every non-``None`` override applied; includes ``profile`` itself.

    An override that is no knob of any profile is refused (a typo would otherwise be silently ignored), and so
    is a value outside its allowed range (:mod:`xai_helpers.study.parameters`), before anything runs.
    """
    name = profile_name(profile)
    config = dict(PROFILES[name])
    unknown = sorted(k for k in overrides if k not in config)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; allowed: {', '.join(sorted(config))}")
    config.update({k: v for k, v in overrides.items() if v is not None})
    check_values(config)
    config["profile"] = name
    return config
