"""The training scrubber: a slider (and a play button) over notebook 04's GAN snapshots showing, at each, the
samples of the fixed latents, the losses and D(x), D(G(z)) up to that iteration, and what the discriminator looks
at on real and generated images. Each snapshot's samples and maps are kept once computed, so scrubbing back is
instant."""
from __future__ import annotations

import ipywidgets as widgets

from ..cnn import METHODS
from ..gan import D_METHODS, history_frame
from .app_widgets import ExplorerApp
from .study_models import StudyModels
from .training_figures import training_figure
from .training_view import (batchnorm_batch, discriminator_view, explained_real, grid_size, history_split,
                            samples_at, snapshot_choices, training_record, window_at)

#: Milliseconds between frames of the play button: about one uncached snapshot's answer at the quick profile, so
#: playing shows every frame instead of dropping most of them.
PLAY_INTERVAL_MS = 800
_EVIDENCE_LABELS = (("each image as what it is (as in 04)", "own"), ("evidence for 'real'", "real"),
                    ("evidence for 'generated'", "generated"))


class TrainingScrubber(ExplorerApp):
    name = "training"
    title = "Training scrubber"

    def __init__(self, models: StudyModels, run_path=None):
        super().__init__(run_path)
        if models.gan is None:
            raise ValueError("the training scrubber needs notebook 04's GAN: load the models with "
                             "load_study_models(..., gan=True)")
        self.models, self.gan = models, models.gan
        data, config = models.data, models.config
        self.frame = history_frame(self.gan.history)
        n_samples, self.grid_columns = grid_size(self.gan, data.num_classes)
        n_explained = config["d_explain_images"]
        # One real image per class at most (04's probe images), and never fewer than 04 explains.
        self.real = explained_real(data.test_x, data.test_y, max(n_explained, data.num_classes))
        self.batchnorm_real = batchnorm_batch(data.train_x, data.train_y, config["gan_batch_size"], models.seed)
        self._samples: dict[tuple, object] = {}  # (snapshot, n) → images
        self._maps: dict[tuple, dict] = {}  # (snapshot, n, evidence, method) → D's view
        choices = snapshot_choices(self.gan)
        last = len(choices) - 1
        slider = self.add("snapshot", widgets.SelectionSlider(options=choices, value=last, description="iteration",
                                                              continuous_update=True))
        play = self.add("play", widgets.Play(min=0, max=last, value=last, interval=PLAY_INTERVAL_MS,
                                             description="play the snapshots"), recompute=False)
        widgets.link((play, "value"), (slider, "index"))  # the slider recomputes; the play button only moves it
        self.add("samples", widgets.IntSlider(min=self.grid_columns, max=n_samples, step=self.grid_columns,
                                              value=n_samples, description="samples", continuous_update=False))
        self.add("explained", widgets.IntSlider(min=1, max=len(self.real[0]), value=min(n_explained, len(self.real[0])),
                                                description="D's images", continuous_update=False))
        self.add("evidence", widgets.Dropdown(options=list(_EVIDENCE_LABELS), description="D's map of"))
        self.add("method", widgets.Dropdown(options=[(METHODS[m].title, m) for m in D_METHODS], value="grad_cam",
                                            description="method"))

    def _cached(self, store: dict, key: tuple, make):
        if key not in store:
            store[key] = make()
        return store[key]

    def compute(self, progress, cancelled):
        index, n, n_explained = self.value("snapshot"), self.value("samples"), self.value("explained")
        evidence, method = self.value("evidence"), self.value("method")
        seed = self.models.seed
        hit = (index, n) in self._samples and (index, n_explained, evidence, method) in self._maps
        samples = self._cached(self._samples, (index, n), lambda: samples_at(self.gan, index, n, seed))
        if cancelled():  # a newer snapshot was asked for while G ran: skip D's maps of this one
            return None
        maps = self._cached(self._maps, (index, n_explained, evidence, method), lambda: discriminator_view(
            self.gan, index, self.real, self.batchnorm_real, n=n_explained, evidence=evidence, method=method,
            seed=seed, ig_steps=self.models.config["ig_steps"]))
        iteration = self.gan.snapshots[index]["iteration"]
        seen, after = history_split(self.frame, iteration)
        return {"snapshot": index, "iteration": iteration, "samples": samples, "grid_columns": self.grid_columns,
                "discriminator": maps, "method": method, "history": seen, "history_after": after,
                "window": window_at(self.frame, iteration), "from_cache": hit, "checkpoint": self.gan.key,
                "diverged": self.gan.diverged, "divergence": self.gan.divergence,
                "iterations_done": self.gan.iterations_done}

    def draw(self, view):
        return training_figure(view, METHODS[view["method"]].title,
                               title=f"DCGAN on {self.models.data.name}, iteration {view['iteration']} "
                                     f"(snapshot {view['snapshot'] + 1} of {len(self.gan.snapshots)}, seed "
                                     f"{self.models.seed})")

    def describe(self, view):
        w = view["window"]
        if w is None:
            log = "no logged window yet (the initial weights)"
        else:
            log = (f"window ending at iteration {w['iteration']}: D(x) {w['d_real']:.2f}, D(G(z)) {w['d_fake']:.2f}, "
                   f"D loss {w['d_loss']:.2f}, G loss {w['g_loss']:.2f}")
        text = (f"iteration {view['iteration']} (snapshot {view['snapshot'] + 1} of {len(self.gan.snapshots)}); {log}"
                + ("; from the scrubber's cache" if view["from_cache"] else ""))
        if view["diverged"]:
            text += (f". Training DIVERGED ({view['divergence']}): the snapshots stop at the last sound one, "
                     f"iteration {self.gan.snapshots[-1]['iteration']}; the log runs to iteration "
                     f"{view['iterations_done']}")
        return text

    def record(self, view):
        return training_record(view)

    def layout(self):
        c = self.controls
        return self.columns(widgets.VBox([c["snapshot"], c["play"]]), widgets.VBox([c["samples"], c["explained"]]),
                            widgets.VBox([c["evidence"], c["method"]]))


def training_scrubber(models: StudyModels, *, interactive: bool, run_path=None) -> TrainingScrubber:
    """Show the training scrubber (interactive) or its default view, the last snapshot, as a figure (headless);
    returns the app."""
    return TrainingScrubber(models, run_path).show(interactive)
