"""Model-level numbers of a classifier: accuracy, per-class accuracy, confusion, macro-F1, calibration."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, f1_score


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE (Guo et al. 2017): Σ_b |B_b|/N · |acc(B_b) − conf(B_b)| over equal-width confidence bins.

    Written here because scikit-learn has reliability curves but no ECE.
    """
    conf = probs.max(1)
    correct = probs.argmax(1) == labels
    edges = np.linspace(0, 1, n_bins + 1)
    bins = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def classification_summary(logits: torch.Tensor, labels: torch.Tensor, classes) -> dict:
    """Accuracy, macro-F1, ECE, per-class accuracy (class name → value) and the confusion matrix."""
    probs = torch.softmax(logits.float(), 1).numpy()
    y = labels.numpy()
    pred = probs.argmax(1)
    cm = confusion_matrix(y, pred, labels=np.arange(len(classes)))
    per_class = cm.diagonal() / np.maximum(cm.sum(1), 1)
    return {
        "accuracy": float((pred == y).mean()),
        "macro_f1": float(f1_score(y, pred, average="macro", labels=np.arange(len(classes)), zero_division=0)),
        "ece": expected_calibration_error(probs, y),
        "per_class_accuracy": {str(c): float(a) for c, a in zip(classes, per_class)},
        "confusion_matrix": cm.tolist(),
    }


def training_speed(trained) -> dict:
    """Seconds per epoch and training images per second of a :class:`~xai_helpers.cnn.train.TrainedClassifier`
    as it was trained (None for a model trained elsewhere, which has no history)."""
    if not trained.history:
        return {"seconds_per_epoch": None, "train_images_per_second": None}
    per_epoch = sum(r["seconds"] for r in trained.history) / len(trained.history)
    return {"seconds_per_epoch": per_epoch, "train_images_per_second": trained.meta["n_train"] / per_epoch}
