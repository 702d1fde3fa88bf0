"""The study's evaluation (notebook 06): tables and checks over every notebook's metrics and seeds, synthetic
augmentation without leakage, and human ratings (the rating form, keyed answers, agreement and rank statistics).

The rating form's widgets are in :mod:`.rating_widgets`."""
from . import human_ratings, measure_reliability, tables
from .augmentation import (augmentation_study, check_regimes, classification_accuracy_score, regime_synthesizer,
                           synthetic_samples)
from .checks import POINTING_CLEAN_MAX, POINTING_SHORTCUT_MIN, study_checks
from .measure_reliability import SEED_STABILITY_MIN
from .quantities import DOWN, QUANTITIES, UP, quantity
from .rated_maps import item_metrics
from .rating_summary import human_summary

__all__ = ["DOWN", "POINTING_CLEAN_MAX", "POINTING_SHORTCUT_MIN", "QUANTITIES", "SEED_STABILITY_MIN", "UP",
           "augmentation_study", "check_regimes", "classification_accuracy_score", "human_ratings", "human_summary",
           "item_metrics", "measure_reliability", "quantity", "regime_synthesizer", "study_checks",
           "synthetic_samples", "tables"]
