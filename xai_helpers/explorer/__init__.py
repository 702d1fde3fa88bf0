"""Interactive exploration of the study (notebook 07): the models the study trained, taken from its cache
(:mod:`.study_models`), and what each explorer shows, computed without widgets: attributions of one image with
their deletion/insertion curves (:mod:`.attribution_view`), and the views of the latent, training and concept
explorers.

The ipywidgets apps are in ``*_widgets`` modules (:mod:`.attribution_widgets`, …) and their figures in
:mod:`.figures`; each app is one function call, and renders one static view when run headless."""
from .attribution_view import SETTINGS, SLOW_METHODS, attribution_view, select_images, view_record
from .study_models import CLASSIFIER_NAMES, StudyModels, load_study_models

__all__ = ["CLASSIFIER_NAMES", "SETTINGS", "SLOW_METHODS", "StudyModels", "attribution_view", "load_study_models",
           "select_images", "view_record"]
