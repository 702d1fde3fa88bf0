"""Model-level explanation with concepts (notebook 03): the concept sets (stroke transforms, loops, textures, a
planted pattern), TCAV with held-out CAV accuracy, a paired test against random concepts and Holm's correction.

Figures: :mod:`.plots`."""
from .sets import concept_sets, planting_pattern
from .significance import correct
from .tcav import (captum_accuracy_comparison, class_inputs, compare_with_null, default_layers, json_value,
                   nested_metrics, tcav_study)

__all__ = ["captum_accuracy_comparison", "class_inputs", "compare_with_null", "concept_sets", "correct",
           "default_layers", "json_value", "nested_metrics", "planting_pattern", "tcav_study"]
