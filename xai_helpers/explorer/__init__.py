"""Interactive exploration of the study (notebook 07): the models the study trained, taken from its cache
(:mod:`.study_models`), and what each explorer shows, computed without widgets: attributions of one image with
their deletion/insertion curves (:mod:`.attribution_view`), a latent point and what G, D and the classifier make of
it (:mod:`.latent_view`), the GAN at one snapshot (:mod:`.training_view`), and a TCAV test of one concept
(:mod:`.concept_view`).

The ipywidgets apps are in ``*_widgets`` modules (:mod:`.attribution_widgets`, …) and their figures in
:mod:`.figures`; each app is one function call, and renders one static view when run headless."""
from .attribution_view import SETTINGS, SLOW_METHODS, image_attributions, select_images, view_record
from .concept_view import concept_scores, concept_test_view
from .study_models import CLASSIFIER_NAMES, StudyModels, load_study_models
from .training_view import discriminator_view, history_split, samples_at

__all__ = ["CLASSIFIER_NAMES", "SETTINGS", "SLOW_METHODS", "StudyModels", "concept_scores",
           "concept_test_view", "discriminator_view", "history_split", "image_attributions",
           "load_study_models", "samples_at", "select_images", "view_record"]
