"""Model-level explanation with concepts (notebook 03): the concept sets (stroke transforms, loops, textures, a
planted pattern), TCAV with held-out CAV accuracy, a paired test against random concepts and Holm's correction
within each family (the planted experiment's confirmatory tests apart from the exploratory ones).

Figures: :mod:`.figures`."""
from .sets import concept_sets, planting_pattern
from .planted import EXPLORATORY_FAMILY, PLANTED_FAMILY, absent_verdict, families, planted_metrics, present_verdict
from .significance import correct, correct_within
from .tcav import (captum_accuracy_comparison, class_inputs, compare_with_null, default_layers, json_value,
                   nested_metrics, probed_layers, significant_pairs, tcav_study)

__all__ = ["EXPLORATORY_FAMILY", "PLANTED_FAMILY", "absent_verdict", "captum_accuracy_comparison", "class_inputs",
           "compare_with_null", "concept_sets", "correct", "correct_within", "default_layers", "families",
           "json_value", "nested_metrics", "planted_metrics", "planting_pattern", "present_verdict", "probed_layers",
           "significant_pairs", "tcav_study"]
