"""The concept tester: choose a concept (one of notebook 03's sets, or a folder of your own images), a model, a
layer and a class, press "run TCAV", and read the held-out CAV accuracy, the TCAV score of every CAV against the
random-vs-random null, the p-value and its Holm correction over the classes, with the verdict.

TCAV trains a CAV per random counterpart (seconds), so it runs on the button, in the background, with a progress
bar; every CAV and gradient is kept, so what is already computed (another class, a concept tested before) answers
at once without the button."""
from __future__ import annotations

import html

import ipywidgets as widgets

from ..concepts import class_inputs, concept_sets, folder_draws, load_concept_folder, planting_pattern
from .app_widgets import ExplorerApp
from .concept_figures import concept_figure
from .concept_view import (ALPHA, MIN_CAV_ACCURACY, concept_choices, concept_record, concept_scores,
                           concept_test_view, is_cached, layer_choices)
from .study_models import StudyModels

class ConceptTester(ExplorerApp):
    name = "concepts"
    title = "Concept tester"

    def __init__(self, models: StudyModels, run_path=None, concepts_dir=None, *,
                 min_cav_accuracy: float = MIN_CAV_ACCURACY, alpha: float = ALPHA):
        super().__init__(run_path)
        self.models, self.min_cav_accuracy, self.alpha = models, min_cav_accuracy, alpha
        data, config = models.data, models.config
        self.classes = list(data.classes)
        self.sets = concept_sets(data, config["tcav_set_size"], config["tcav_random_sets"],
                                 pattern=planting_pattern(models.patch_size, data.image_shape[0]),
                                 n_controls=config["tcav_controls"], seed=models.seed)
        own, notes = {}, {}
        if concepts_dir is not None:
            for name, images in load_concept_folder(concepts_dir, data.image_shape).items():
                own[name], how = folder_draws(images, config["tcav_random_sets"], config["tcav_set_size"], models.seed)
                notes[name] = f"your {len(images)} images from {concepts_dir}/{name}, resized to the data's; {how}"
        self.concepts = concept_choices(self.sets, data.name, models.patch_size, self.classes[models.shortcut_class],
                                        own, notes)
        self.inputs = class_inputs(data.test_x, data.test_y, config["tcav_class_images"])
        self._cavs: dict = {}  # (checkpoint, layer, set, draw) → CAV
        self._gradients: dict = {}  # (checkpoint, layer, class) → layer gradients
        # The ground truth first: the shortcut model and its planted pattern, where there are both.
        model = "shortcut" if "shortcut" in models.classifiers else next(iter(models.classifiers))
        concept = "planted_pattern" if "planted_pattern" in self.concepts else next(iter(self.concepts))
        self.add("model", widgets.Dropdown(options=[(models.label(n), n) for n in models.classifiers], value=model,
                                           description="model"),
                 recompute=False)
        self.add("concept", widgets.Dropdown(options=[(c.label, key) for key, c in self.concepts.items()],
                                             value=concept, description="concept"), recompute=False)
        self.add("layer", widgets.Dropdown(description="layer"), recompute=False)
        self.add("target", widgets.Dropdown(options=[(c, i) for i, c in enumerate(self.classes)],
                                            value=models.shortcut_class, description="class"), recompute=False)
        # Not a control (it has no value to export): the button's own stable class instead.
        self.run_button = widgets.Button(description="run TCAV", button_style="primary", icon="play")
        self.run_button.add_class("xai-concepts-run")
        self.run_button.on_click(lambda _: self.request())
        self.note = widgets.HTML()
        self.note.add_class("xai-concepts-note")
        self._refresh_layers()
        self._refresh_note()
        self.controls["model"].observe(lambda change: self._refresh_layers(), names="value")
        self.controls["concept"].observe(lambda change: self._refresh_note(), names="value")
        for key in ("model", "concept", "layer", "target"):
            self.controls[key].observe(lambda change: self._changed(), names="value")

    # -------------------------------------------------------------------- the form
    def _refresh_layers(self) -> None:
        """The chosen model's layers, keeping the same kind of layer (03's label) where the new model has one, and
        opening on the layer 03 reports its verdicts at."""
        dropdown = self.controls["layer"]
        choices, reported = layer_choices(self.models.classifiers[self.value("model")], self.models.supplied)
        before = next((label for label, name in dropdown.options if name == dropdown.value), None)
        kind = before.split(" (")[0] if before else None
        value = next((name for label, name in choices if kind and label.split(" (")[0] == kind), reported)
        self._suspended = True  # one answer for the model change, not one per option list
        try:
            dropdown.options = choices
            dropdown.value = value
        finally:
            self._suspended = False

    def _refresh_note(self) -> None:
        concept = self.concepts[self.value("concept")]
        omitted = "; ".join(f"{name} omitted: {why}" for name, why in self.sets.info["omitted"].items())
        self.note.value = html.escape(concept.note + (f" ({omitted})" if omitted else ""))

    def _changed(self) -> None:
        """Answer at once what the caches hold; otherwise say that the shown result is for other settings."""
        if self._suspended:
            return
        if self.cached():
            self.request()
        elif self.view is not None:
            self.status.value = "settings changed: press <b>run TCAV</b> (the figure shows the previous test)"

    def cached(self) -> bool:
        model = self.value("model")
        return is_cached(self.value("layer"), self.concepts[self.value("concept")], len(self.sets.counterparts),
                         self.inputs, model_key=self.models.checkpoints[model], cavs=self._cavs,
                         gradients=self._gradients)

    # -------------------------------------------------------------------- the view
    def is_slow(self) -> bool:
        return not self.cached()

    def compute(self, progress, cancelled):
        model_name, layer, target = self.value("model"), self.value("layer"), self.value("target")
        concept = self.concepts[self.value("concept")]
        table = concept_scores(self.models.classifiers[model_name], layer, concept, self.sets.counterparts,
                               self.sets.null, self.inputs, model_key=self.models.checkpoints[model_name],
                               seed=self.models.seed, cavs=self._cavs, gradients=self._gradients, progress=progress,
                               cancelled=cancelled)
        if table is None:
            return None
        view = concept_test_view(table, target, min_cav_accuracy=self.min_cav_accuracy, alpha=self.alpha)
        layer_label = next(label for label, name in self.controls["layer"].options if name == layer)
        view.update(model=model_name, checkpoint=self.models.checkpoints[model_name], layer=layer,
                    layer_label=layer_label, concept=concept.key, label=concept.label, note=concept.note,
                    examples=concept.draws[0], counterpart_examples=self.sets.counterparts[0])
        return view

    def draw(self, view):
        return concept_figure(view, self.classes, title=f"TCAV of '{view['label']}' for class "
                                                        f"'{self.classes[view['target']]}': {self.models.label(view['model'])}, "
                                                        f"{view['layer_label']}")

    def describe(self, view):
        row = view["row"]
        tested = (f"p {row['p_value']:.3g}, Holm over the {view['family']} classes {row['p_value_corrected']:.3g}"
                  if row["tested"] else "no test")
        return (f"{view['label']} at {view['layer']} of the {self.models.label(view['model'])}, class "
                f"'{self.classes[view['target']]}': TCAV {row['tcav_score']:.2f} against the null's "
                f"{row['null_score']:.2f}, held-out CAV accuracy {row['cav_accuracy']:.2f}; {tested}: "
                f"{view['verdict']}")

    def record(self, view):
        return concept_record(view, self.classes)

    def layout(self):
        c = self.controls
        return widgets.VBox([self.columns(widgets.VBox([c["model"], c["layer"], c["target"]]),
                                          widgets.VBox([c["concept"], self.run_button])), self.note])


def concept_tester(models: StudyModels, *, interactive: bool, run_path=None, concepts_dir=None) -> ConceptTester:
    """Show the concept tester (interactive; it runs the default test once in the background) or the default test
    (the shortcut model's planted pattern) as a figure (headless); returns the app."""
    return ConceptTester(models, run_path, concepts_dir).show(interactive)
