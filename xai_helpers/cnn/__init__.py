"""The classifier and its explanations (notebooks 01 and 02): the plain and attention CNNs and their cached
training; fourteen attribution methods behind one ``explain()``; how good an explanation is (faithfulness,
robustness, sanity, a planted shortcut as ground truth: the planting itself is in :mod:`xai_helpers.data.planting`); channel attributions, activation maximisation and
feature attenuation; saliency over training.

Figures: :mod:`.figures` (training) and :mod:`.attribution_figures` (explanations)."""
from . import explanation_metrics
from .attenuation import attenuation_effect, taylor_channel_scores, taylor_prediction
from .attribution import IG_BASELINES, METHODS, explain, heatmap, last_conv_activation
from .attribution_study import (attenuation_correlation, attenuation_study, faithfulness_table, ground_truth_table,
                                method_options, per_image_channel_correlation, robustness_table, run_attributions,
                                sanity_records, sanity_summary, substrate_rank_agreement)
from .classifier_metrics import classification_summary, training_speed
from .feature_level import (channel_attributions, channel_objective, class_channel_importance, class_logit_objective,
                            conv_activation_layers, maximise_activation)
from .shortcut import PATTERN_EFFECT_MIN, SHORTCUT_RATE_MIN, shortcut_rate, train_shortcut_model
from ..study.parameter_registry import CLASSIFIER_PARAMETERS
from .train import accuracy, classifier_settings, predict_logits, train_classifier
from .training_dynamics import probe_indices, rank_similarity_to_final, saliency_over_snapshots

__all__ = ["CLASSIFIER_PARAMETERS", "IG_BASELINES", "METHODS", "PATTERN_EFFECT_MIN",
           "SHORTCUT_RATE_MIN", "accuracy", "attenuation_correlation", "attenuation_effect", "attenuation_study",
           "channel_attributions",
           "channel_objective", "class_channel_importance", "class_logit_objective", "classification_summary",
           "classifier_settings", "conv_activation_layers", "explain", "explanation_metrics", "faithfulness_table",
           "ground_truth_table", "heatmap", "last_conv_activation", "maximise_activation", "method_options",
           "per_image_channel_correlation", "predict_logits",
           "probe_indices", "rank_similarity_to_final", "robustness_table",
           "run_attributions", "saliency_over_snapshots", "sanity_records", "sanity_summary", "shortcut_rate",
           "substrate_rank_agreement",
           "taylor_channel_scores", "taylor_prediction", "train_classifier", "train_shortcut_model", "training_speed"]
