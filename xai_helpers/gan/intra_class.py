"""Intra-class FID (Miyato & Koyama 2018, "cGANs with projection discriminator"): the FID between the generated and
the real images *of each class*, and its mean over classes. A generator can reach a low FID with every class's
images drawn under the wrong label, or with classes blended; FID per class sees both.

For a conditional generator the class of a sample is the label it was asked for (the paper's definition). An
unconditional generator has no labels: its samples are grouped by the class the judging classifier predicts, so the
figure measures how much each predicted class looks like the real class, not whether the generator can be told what
to draw; ``labels`` in the result says which grouping was used.

Each class's FID rests on that class's samples only (about n / classes), so it is biased upwards against the FID of
the whole set (FID's bias grows as the sample shrinks): compare classes and runs at the same sample size, not with
the overall FID. A class with fewer than ``min_samples`` generated or real images is left out and named.
"""
from __future__ import annotations

import numpy as np
import torch

from .fidelity import fid

#: Fewest images of a class (generated and real) for its FID: the feature covariance needs more than a handful.
MIN_SAMPLES = 10


def intra_class_fid(fake01: torch.Tensor, fake_labels: torch.Tensor, real01: torch.Tensor, real_labels: torch.Tensor,
                    classes: list[str], extractor: str, labels: str, min_samples: int = MIN_SAMPLES) -> dict:
    """``{"per_class": {class: FID}, "mean", "left_out": {class: reason}, "labels"}`` of ``fake01`` against
    ``real01``, both grouped by their labels (indices into ``classes``)."""
    if len(fake01) != len(fake_labels) or len(real01) != len(real_labels):
        raise ValueError(f"one label per image: {len(fake01)} generated images with {len(fake_labels)} labels, "
                         f"{len(real01)} real images with {len(real_labels)} labels")
    per_class, left_out = {}, {}
    for index, name in enumerate(classes):
        fake_c, real_c = fake01[fake_labels == index], real01[real_labels == index]
        if min(len(fake_c), len(real_c)) < min_samples:
            left_out[name] = f"{len(fake_c)} generated and {len(real_c)} real images (fewer than {min_samples})"
            continue
        per_class[name] = fid(fake_c, real_c, extractor)
    mean = float(np.mean(list(per_class.values()))) if per_class else None
    return {"per_class": per_class, "mean": mean, "left_out": left_out, "labels": labels,
            "reference": "Miyato & Koyama 2018"}
