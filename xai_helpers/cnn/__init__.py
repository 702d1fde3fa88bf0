"""The classifier and its explanations (notebooks 01 and 02): the plain and attention CNNs and their cached
training; fourteen attribution methods behind one ``explain()`` (LRP through zennit's canonizers on torchvision
ResNets and VGGs: :mod:`.relevance`); how good an explanation is (faithfulness with ROAD, robustness, sanity with
Random Logit, smooth and Efficient MPRT, a planted shortcut as ground truth with relevance mass and rank accuracy, complexity:
the planting itself is in :mod:`xai_helpers.data.planting`); channel attributions, activation
maximisation and feature attenuation; saliency over training.

Figures: :mod:`.figures` (training) and :mod:`.attribution_figures` (explanations)."""
from . import explanation_metrics
from .attenuation import attenuated, attenuation_effect, taylor_channel_scores, taylor_prediction
from .attribution import (IG_BASELINES, METHODS, explain, grid_feature_mask, heatmap, last_conv_activation,
                          offered_methods)
from .attribution_study import (IG_COMPLETENESS_TOLERANCE, applicable_methods, attenuation_correlation,
                                attenuation_study, faithfulness_table, ground_truth_table, heats_for,
                                integrated_gradients_steps, method_options, per_image_channel_correlation,
                                robustness_table, run_attributions, sanity_records, sanity_summary,
                                scaled_for_image_size, substrate_rank_agreement)
from .classifier_metrics import classification_summary, training_speed
from .complexity import entropy, sparseness
from .explanation_metrics import DEGENERATE_MAX_SHARE, INPUT_INDEPENDENT_MIN
from .feature_level import (channel_attributions, channel_objective, class_channel_importance, class_logit_objective,
                            conv_activation_layers, maximise_activation)
from .input_side import AtInputSide, at_side
from .layer_detection import layer_table
from .measure_reliability import (AR_MIN, DISRUPTION, INPUT_NOISE, NR_MIN, WEIGHT_NOISE, condition_scores,
                                  measure_reliability_table, noisy_weights, prediction_agreement)
from .model_sources import (attach_layers, describe, study_classifier, tcav_layer_names, train_variant,
                            variant_settings)
from .method_needs import hyperparameter_sensitivity, passes_per_image, requirements
from .models import conv_block
from .random_logit import random_logit
from .relevance import conservation_summary, lrp_backend
from .shortcut import PATTERN_EFFECT_MIN, SHORTCUT_RATE_MIN, shortcut_rate, train_shortcut_model
from .skip_connections import CUT_METHODS, residual_blocks, without_skips
from .smooth_mprt import fully_randomised, mean_over_maps, smooth_mprt
from .superpixels import DEFAULT_SUPERPIXELS, slic_masks, uses_superpixels
from .train import TrainedClassifier, accuracy, classifier_settings, predict_logits, train_classifier
from .training_dynamics import probe_indices, rank_similarity_to_final, saliency_over_snapshots
from ..study import CLASSIFIER_PARAMETERS

__all__ = ["AR_MIN", "AtInputSide", "CLASSIFIER_PARAMETERS", "CUT_METHODS", "DEFAULT_SUPERPIXELS",
           "DEGENERATE_MAX_SHARE", "DISRUPTION", "IG_BASELINES", "IG_COMPLETENESS_TOLERANCE", "INPUT_INDEPENDENT_MIN",
           "INPUT_NOISE", "METHODS", "NR_MIN", "PATTERN_EFFECT_MIN", "SHORTCUT_RATE_MIN", "TrainedClassifier",
           "WEIGHT_NOISE", "accuracy", "applicable_methods", "at_side", "attach_layers", "attenuated",
           "attenuation_correlation", "attenuation_effect", "attenuation_study", "channel_attributions",
           "channel_objective", "class_channel_importance", "class_logit_objective", "classification_summary",
           "classifier_settings", "condition_scores", "conservation_summary", "conv_activation_layers", "conv_block",
           "describe", "entropy", "explain", "explanation_metrics", "faithfulness_table", "fully_randomised",
           "grid_feature_mask", "ground_truth_table", "heatmap", "heats_for", "hyperparameter_sensitivity",
           "integrated_gradients_steps", "last_conv_activation", "layer_table", "lrp_backend", "maximise_activation",
           "mean_over_maps", "measure_reliability_table", "method_options", "noisy_weights", "offered_methods",
           "passes_per_image", "per_image_channel_correlation", "predict_logits", "prediction_agreement",
           "probe_indices", "random_logit", "rank_similarity_to_final", "requirements", "residual_blocks",
           "robustness_table", "run_attributions", "saliency_over_snapshots", "sanity_records", "sanity_summary",
           "scaled_for_image_size", "shortcut_rate", "slic_masks", "smooth_mprt", "sparseness", "study_classifier",
           "substrate_rank_agreement", "taylor_channel_scores", "taylor_prediction", "tcav_layer_names",
           "train_classifier", "train_shortcut_model", "train_variant", "training_speed", "uses_superpixels",
           "variant_settings", "without_skips"]
