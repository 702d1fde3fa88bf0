"""Model-level explanation with concepts (notebook 03): the concept sets (stroke transforms, loops, textures, a
planted pattern), TCAV with held-out CAV accuracy, a paired test against random concepts and Holm's correction
within each family (the planted experiment's confirmatory tests apart from the exploratory ones).

Figures: :mod:`.figures`."""
from .folders import folder_draws, load_concept_folder
from .planted import EXPLORATORY_FAMILY, PLANTED_FAMILY, absent_verdict, families, planted_metrics, present_verdict
from .sets import ConceptSets, STROKE_CONCEPTS, concept_sets, planting_pattern
from .significance import correct, correct_within, holm
from .tcav import (captum_accuracy_comparison, check_layers, class_inputs, compare_with_null, compute_cavs,
                   default_layers, directional_derivatives, json_value, layer_gradients, nested_metrics,
                   probed_layers, significant_pairs, tcav_study)

__all__ = ["ConceptSets", "EXPLORATORY_FAMILY", "PLANTED_FAMILY", "STROKE_CONCEPTS", "absent_verdict",
           "captum_accuracy_comparison", "check_layers", "class_inputs", "compare_with_null", "compute_cavs",
           "concept_sets", "correct", "correct_within", "default_layers", "directional_derivatives", "families",
           "folder_draws", "holm", "json_value", "layer_gradients", "load_concept_folder", "nested_metrics",
           "planted_metrics", "planting_pattern", "present_verdict", "probed_layers", "significant_pairs",
           "tcav_study"]
