"""The GAN latent explorer: a latent z from a seed (or a random one), sliders along the generator's top SeFa,
GANSpace, E[JᵀJ] and InterFaceGAN directions, an interpolation slider between two latents (lerp or slerp), and
for InfoGAN on ``shapes`` its code sliders; the image, the classifier's label and probabilities, D's verdict and
the latent sensitivity map follow every move."""
from __future__ import annotations

import ipywidgets as widgets
import torch

from .app_widgets import COMPUTING, ExplorerApp
from .figures import latent_figure
from .latent_view import FAMILIES, PATHS, latent_directions, latent_point, latent_pool, latent_state
from .study_models import StudyModels

#: Range of every direction slider, in units of the (unit-length) direction: ±3 spans the prior's bulk.
ALPHA_RANGE = 3.0


class LatentExplorer(ExplorerApp):
    name = "latent"
    title = "GAN latent explorer"

    def __init__(self, models: StudyModels, run_path=None, k: int = 4, classifier: str | None = None):
        super().__init__(run_path)
        if models.gan is None:
            raise ValueError("the latent explorer needs the study's GAN: load_study_models(..., gan=True)")
        self.models = models
        self.classes = list(models.data.classes)
        self.classifier = models.classifiers[classifier or models.explained]  # None: the model 01–03 explain
        self.gans = {"DCGAN (notebook 04)": models.gan}
        if models.info_gan is not None:
            self.gans["InfoGAN-CR (notebook 05)" if models.config["cr_weight"] > 0 else "InfoGAN (notebook 05)"] = \
                models.info_gan
        self.k = k
        self._directions: dict[str, dict] = {}
        self.add("generator", widgets.Dropdown(options=list(self.gans), description="generator"))
        self.add("seed_a", widgets.BoundedIntText(value=models.seed, min=0, max=2 ** 31 - 1, description="z seed"))
        self.add("seed_b", widgets.BoundedIntText(value=models.seed + 1, min=0, max=2 ** 31 - 1,
                                                  description="second z seed"))
        self.add("t", widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="towards 2nd z",
                                          continuous_update=False))
        self.add("path", widgets.ToggleButtons(options=list(PATHS), description="path"))
        self.add("label", widgets.Dropdown(options=[(c, i) for i, c in enumerate(self.classes)],
                                           description="G's class"))
        for family in FAMILIES:
            key = _key(family)
            self.add(f"{key}_which", widgets.Dropdown(description=family, layout=widgets.Layout(width="420px")))
            self.add(f"{key}_alpha", widgets.FloatSlider(value=0.0, min=-ALPHA_RANGE, max=ALPHA_RANGE, step=0.1,
                                                         description="α", continuous_update=False))
        self.code_sliders = widgets.VBox()
        self.random_button = widgets.Button(description="random z", icon="random")
        self.random_button.add_class("xai-latent-random")
        self.random_button.on_click(lambda _: self.randomise())
        self.controls["generator"].observe(lambda change: self._use_generator(), names="value")
        self._use_generator(request=False)

    # -------------------------------------------------------------------- the generator and its directions
    @property
    def gan(self):
        return self.gans[self.value("generator")]

    def directions(self) -> dict:
        name = self.value("generator")
        with COMPUTING:  # the generator's observer runs in the kernel's thread while a worker may be computing
            if name not in self._directions:  # one computation per generator (a few seconds), then instant
                self._directions[name] = self._find_directions(self.gans[name])
        return self._directions[name]

    def _find_directions(self, gan) -> dict:
        return latent_directions(gan, self.classifier, self.classes, k=min(self.k, gan.z_dim),
                                 n_pool=self.models.config["interfacegan_samples"],
                                 n_jacobian=self.models.config["latent_samples"], seed=self.models.seed)

    def _use_generator(self, request: bool = True) -> None:
        self._suspended = True
        try:
            found = self.directions()
            for family in FAMILIES:
                key = _key(family)
                options = [(d.label, i) for i, d in enumerate(found[family])] or [("none found", -1)]
                self.controls[f"{key}_which"].options = options
                self.controls[f"{key}_which"].value = options[0][1]
                self.controls[f"{key}_alpha"].value = 0.0
                self.controls[f"{key}_alpha"].disabled = not found[family]
            gan = self.gan
            self.controls["label"].disabled = not gan.num_classes
            sliders = []
            for j in range(gan.code_dim):
                key = f"code_{j}"
                slider = self.controls.get(key) or self.add(key, widgets.FloatSlider(
                    min=-1.0, max=1.0, step=0.05, description=f"code c{j}", continuous_update=False))
                sliders.append(slider)
            for key in [k for k in self.controls if k.startswith("code_")]:
                self.controls[key].disabled = int(key.split("_")[1]) >= gan.code_dim
            self.code_sliders.children = sliders
            self._reset_codes()
        finally:
            self._suspended = False
        if request:
            self.request()

    def _reset_codes(self) -> None:
        """Code sliders start at z's own codes, so that moving one changes only that code."""
        z_a, _ = self._seed_latent(self.value("seed_a"))
        for j in range(self.gan.code_dim):
            self.controls[f"code_{j}"].value = round(float(z_a[0, j]), 2)

    def randomise(self) -> None:
        seed = int(torch.randint(0, 2 ** 31 - 1, (1,)).item())
        self.set_values(seed_a=seed)

    def _seed_latent(self, seed: int):
        return latent_pool(self.gan, 1, int(seed))

    # -------------------------------------------------------------------- the view
    def compute(self, progress, cancelled):
        gan, found = self.gan, self.directions()
        z_a, _ = self._seed_latent(self.value("seed_a"))
        z_b, _ = self._seed_latent(self.value("seed_b"))
        moves, shown = [], {}
        for family in FAMILIES:
            key = _key(family)
            which, alpha = self.value(f"{key}_which"), self.value(f"{key}_alpha")
            if which >= 0 and alpha:
                moves.append((found[family][which].vector, alpha))
                shown[found[family][which].label] = alpha
        codes = {j: self.value(f"code_{j}") for j in range(gan.code_dim)}
        z = latent_point(z_a, z_b, self.value("t"), self.value("path"), moves, codes)
        regressor = self.models.regressor if gan is self.models.info_gan else None
        state = latent_state(gan, self.classifier, z, self.value("label") if gan.num_classes else None, regressor)
        state.update(z=z[0].numpy(), moves=shown, generator=self.value("generator"))
        return state

    def draw(self, view):
        moved = ", ".join(f"{name.split(' (')[0]} {alpha:+.1f}" for name, alpha in view["moves"].items())
        return latent_figure(view, self.classes, title=f"{view['generator']}: seed {self.value('seed_a')}"
                             + (f" → seed {self.value('seed_b')} at t = {self.value('t'):.2f} ({self.value('path')})"
                                if self.value("t") else "") + (f"; moved: {moved}" if moved else ""))

    def describe(self, view):
        label = self.classes[int(view["probabilities"].argmax())]
        return f"classifier '{label}' ({view['probabilities'].max():.2f}); D says real with {view['d_real']:.2f}"

    def record(self, view):
        return {"generator": view["generator"], "z": view["z"].tolist(), "moves": view["moves"],
                "classifier_probabilities": dict(zip(self.classes, view["probabilities"].tolist())),
                "d_real": view["d_real"], "factors": view.get("factors"),
                "gan_checkpoint": self.gan.key, "sensitivity_max": float(view["sensitivity"].max())}

    def layout(self):
        c = self.controls
        left = widgets.VBox([c["generator"], widgets.HBox([c["seed_a"], self.random_button]), c["seed_b"], c["t"],
                             c["path"], c["label"]])
        middle = widgets.VBox([self.columns(c[f"{_key(f)}_which"], c[f"{_key(f)}_alpha"]) for f in FAMILIES])
        return widgets.VBox([self.columns(left, middle), self.code_sliders])


def _key(family: str) -> str:
    return {"SeFa": "sefa", "GANSpace": "ganspace", "E[JᵀJ]": "jtj", "InterFaceGAN": "interfacegan"}[family]


def latent_explorer(models: StudyModels, *, interactive: bool, run_path=None, k: int = 4) -> LatentExplorer:
    """Show the GAN latent explorer (interactive) or its default view, one move along each family's top direction,
    as a figure (headless); returns the app."""
    app = LatentExplorer(models, run_path, k)
    if not interactive:  # a static view that shows what the sliders do: one step along each family's first direction
        app.set_values(**{f"{_key(f)}_alpha": 1.0 for f in FAMILIES if not app.controls[f"{_key(f)}_alpha"].disabled})
    return app.show(interactive)
