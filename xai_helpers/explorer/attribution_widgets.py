"""The attribution explorer: pick an image (by class, by correct or misclassified, or a planted-patch image), a
model (01's plain and attention CNNs or your model, and the copy that learned 02's planted shortcut) and several methods with their settings; see the maps side by side with the
top-3 classes, click a class to explain it instead, and read each map's deletion/insertion curves on this image."""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch

from ..cnn import METHODS, predict_logits
from .app_widgets import ExplorerApp
from .attribution_view import (OUTCOMES, SETTINGS, SLOW_METHODS, SOURCES, default_settings, image_maps, map_curves,
                               method_options, select_images, view_record)
from .figures import attribution_figure
from .study_models import StudyModels

DEFAULT_METHODS = ("saliency", "integrated_gradients", "grad_cam")
_SOURCE_LABELS = {"test": "test images", "planted": "planted-patch images (shortcut ground truth)"}


class AttributionExplorer(ExplorerApp):
    name = "attribution"
    title = "Attribution explorer"

    def __init__(self, models: StudyModels, run_path=None, methods=DEFAULT_METHODS):
        super().__init__(run_path)
        self.models = models
        data = models.data
        self.classes = list(data.classes)
        self._predicted: dict[tuple[str, str], torch.Tensor] = {}
        self.target: int | None = None  # None: explain the predicted class
        self.indices = torch.arange(0)
        settings = default_settings(models.options)
        self.add("model", widgets.Dropdown(options=[(models.label(n), n) for n in models.classifiers],
                                           description="model"))
        self.add("source", widgets.Dropdown(options=[(_SOURCE_LABELS[s], s) for s in SOURCES], description="images"))
        self.add("class_filter", widgets.Dropdown(options=[("every class", -1)] + [(c, i) for i, c in
                                                                                     enumerate(self.classes)],
                                                  description="true class"))
        self.add("outcome", widgets.ToggleButtons(options=list(OUTCOMES), description="prediction"))
        self.add("image", widgets.IntSlider(min=0, max=0, description="image #", continuous_update=False))
        # The methods that run on this architecture (02's check for a supplied model): LRP needs rules for its layers.
        self.add("methods", widgets.SelectMultiple(options=[(METHODS[m].title, m) for m in models.methods],
                                                   value=tuple(m for m in methods if m in models.methods), rows=7,
                                                   description="methods"))
        for s in SETTINGS:
            key = f"{s.method}.{s.option}"
            value = settings[(s.method, s.option)]
            if s.kind == "choice":
                widget = widgets.Dropdown(options=list(s.choices), value=value)
            elif s.kind == "int":
                widget = widgets.IntSlider(min=int(s.low), max=int(max(s.high, value)), value=int(value),
                                           continuous_update=False)
            else:
                widget = widgets.FloatSlider(min=s.low, max=s.high, step=0.01, value=float(value),
                                             continuous_update=False)
            widget.description = s.label
            widget.style.description_width = "150px"
            self.add(key, widget)
        self.add("substrate", widgets.Dropdown(options=["blur", "zero"], description="curves fill"))
        self.class_buttons = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))  # many classes: rows
        self.class_buttons.add_class("xai-attribution-classes")
        self.explain_predicted = widgets.Button(description="explain the predicted class")
        self.explain_predicted.add_class("xai-attribution-predicted")
        self.explain_predicted.on_click(lambda _: self.retarget(None))
        for key in ("model", "source", "class_filter", "outcome"):  # the image list depends on these
            self.controls[key].observe(lambda change: self._refilter(), names="value")
        self.controls["image"].observe(lambda change: self._untarget(), names="value")
        self._refilter(request=False)

    # -------------------------------------------------------------------- selection
    def images(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The image pool of the chosen source, and the planted boxes (None for plain test images)."""
        if self.value("source") == "planted":
            return self.models.patched_x, self.models.boxes
        return self.models.data.test_x, None

    def predictions(self) -> torch.Tensor:
        key = (self.value("model"), self.value("source"))
        if key not in self._predicted:  # one pass over the pool per model and source, then cached
            self._predicted[key] = predict_logits(self.models.classifiers[key[0]], self.images()[0]).argmax(1)
        return self._predicted[key]

    def _refilter(self, request: bool = True) -> None:
        chosen = self.value("class_filter")
        self.indices = select_images(self.models.data.test_y, self.predictions(),
                                     None if chosen == -1 else chosen, self.value("outcome"))
        slider = self.controls["image"]
        self._suspended = True
        try:
            slider.max = max(0, len(self.indices) - 1)
            slider.value = min(slider.value, slider.max)
            slider.disabled = len(self.indices) == 0
        finally:
            self._suspended = False
        self.target = None
        if request:
            self.request()

    def _untarget(self) -> None:
        self.target = None

    def retarget(self, class_index: int | None) -> None:
        """Explain ``class_index`` instead (None: the predicted class again)."""
        if class_index is not None and not 0 <= class_index < len(self.classes):
            raise ValueError(f"class {class_index!r} is not allowed: expected an integer in [0, {len(self.classes) - 1}]")
        self.target = class_index
        self.request()

    def current(self) -> tuple[int, torch.Tensor, torch.Tensor | None]:
        """(index in the test split, image, planted box or None) of the shown image."""
        if len(self.indices) == 0:
            raise LookupError("no image matches the filter (class and prediction): change the filter")
        index = int(self.indices[self.value("image")])
        pool, boxes = self.images()
        return index, pool[index], None if boxes is None else boxes[index]

    # -------------------------------------------------------------------- the view
    def chosen_methods(self) -> list[str]:
        return list(self.value("methods"))

    def is_slow(self) -> bool:
        return any(m in SLOW_METHODS for m in self.chosen_methods())

    def options(self) -> dict[str, dict]:
        settings = {(s.method, s.option): self.value(f"{s.method}.{s.option}") for s in SETTINGS}
        return method_options(self.chosen_methods(), settings, self.models.options)

    def compute(self, progress, cancelled):
        """The maps (shown first); :meth:`refine` adds their curves."""
        index, image, box = self.current()
        model = self.models.classifiers[self.value("model")]
        view = image_maps(model, image, self.target, self.chosen_methods(), self.options(), seed=self.models.seed,
                          progress=lambda done, total, _: progress(done / total), cancelled=cancelled)
        if view is not None:
            view.update(index=index, image=image, box=box, model=self.value("model"),
                        true_class=int(self.models.data.test_y[index]))
        return view

    refining = "drawing the deletion/insertion curves …"

    def refines(self, view):
        return True

    def refine(self, view, progress, cancelled):
        return map_curves(self.models.classifiers[view["model"]], view["image"], view, seed=self.models.seed,
                          steps=self.models.config["deletion_steps"], substrate=self.value("substrate"),
                          progress=lambda done, total, _: progress(done / total), cancelled=cancelled)

    def draw(self, view):
        titles = {m: METHODS[m].title for m in METHODS}
        return attribution_figure(view, view["image"], self.classes, titles, view["box"],
                                  title=f"{self.models.label(view['model'])}, test image {view['index']} (true "
                                        f"'{self.classes[view['true_class']]}'): explaining "
                                        f"'{self.classes[view['target']]}'")

    def _job(self, cancelled):
        super()._job(cancelled)
        if self.view is not None and not cancelled():
            self._update_class_buttons(self.view)

    def _update_class_buttons(self, view) -> None:
        buttons = []
        for c, p in view["top"]:
            button = widgets.Button(description=f"{self.classes[c]}: {p:.2f}",
                                    button_style="info" if c == view["target"] else "",
                                    tooltip=f"explain class '{self.classes[c]}'")
            button.add_class("xai-attribution-class")
            button.on_click(lambda _, c=c: self.retarget(c))
            buttons.append(button)
        self.class_buttons.children = buttons

    def describe(self, view):
        fast = {m: s for m, s in view["seconds"].items() if METHODS[m].family in ("gradient", "layer")}
        slowest = max(fast.values()) if fast else 0.0
        return (f"image {view['index']}: predicted '{self.classes[view['predicted']]}', explaining "
                f"'{self.classes[view['target']]}'; slowest gradient/layer method {slowest * 1000:.0f} ms")

    def record(self, view):
        return view_record(view, self.classes, image_index=view["index"], model=view["model"],
                           model_checkpoint=self.models.checkpoints[view["model"]],
                           true_class=self.classes[view["true_class"]],
                           planted_box=None if view["box"] is None else [int(v) for v in view["box"]])

    def layout(self):
        c = self.controls
        pick = widgets.VBox([c["model"], c["source"], c["class_filter"], c["outcome"], c["image"],
                             self.columns(widgets.Label("explain:"), self.class_buttons, self.explain_predicted)])
        settings = widgets.VBox([c[f"{s.method}.{s.option}"] for s in SETTINGS] + [c["substrate"]])
        return self.columns(pick, c["methods"], settings)


def attribution_explorer(models: StudyModels, *, interactive: bool, run_path=None,
                         methods=DEFAULT_METHODS) -> AttributionExplorer:
    """Show the attribution explorer (interactive) or its default view as a figure (headless); returns the app."""
    return AttributionExplorer(models, run_path, methods).show(interactive)


def interaction_seconds(models: StudyModels, methods, n: int = 6, model: str | None = None
                        ) -> tuple[list[float], list[float]]:
    """How long the attribution explorer takes to answer: a form that is not displayed steps through ``n`` test
    images with ``methods``. Returns two lists of wall times (compute and draw), one per image: until the maps
    were shown, and until their deletion/insertion curves were drawn too. The first answer is excluded (it includes
    one-off set-up such as predicting the whole test split)."""
    app = AttributionExplorer(models, methods=methods)
    app.set_values(model=model or models.explained)  # None: the model 01–03 explain
    app.wait()
    maps, complete = [], []
    for i in range(1, n + 1):
        app.set_values(image=i % (app.controls["image"].max + 1))
        app.wait()
        if app.error:
            raise RuntimeError(f"the attribution explorer failed while being timed: {app.error}")
        maps.append(app.seconds)
        complete.append(app.complete_seconds)
    return maps, complete


def answer_summary(maps: list[float], complete: list[float], methods) -> dict:
    """07's record of :func:`interaction_seconds`: median and max until the maps were drawn (the answer) and until
    their curves were drawn too (``complete_``), with the methods and the CPU threads they were measured with."""
    return {"median": float(np.median(maps)), "max": float(max(maps)),
            "complete_median": float(np.median(complete)), "complete_max": float(max(complete)),
            "methods": list(methods), "threads": torch.get_num_threads()}
