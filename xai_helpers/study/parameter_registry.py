"""Every notebook parameter, defined once: its name, the type its parameters cell declares, its default there, the
help text after it, which notebooks declare it and to which group it belongs. Each notebook's first code cell (tagged
``parameters``) is written from this table by ``tools/write_parameter_cells.py``, and a test fails when a cell and
the table differ, so a default or a help text changes here and nowhere else.

What a parameter may take is :data:`~.parameters.ALLOWED` (ranges, also of the profile knobs that are no notebook
parameter), and what ``None`` stands for is the profile's value (:data:`~.config.PROFILES`): :meth:`Parameter.allowed`
and :meth:`Parameter.profile_value` read them, so this table does not restate them."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .parameters import ALLOWED, Allowed

#: The study's notebooks, in order.
NOTEBOOKS = ("01_cnn_training", "02_cnn_attribution", "03_tcav", "04_gan_dynamics", "05_gan_latent", "06_evaluation",
             "07_explorer")
ALL = NOTEBOOKS


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # as the cell annotates it: str, int, float, bool, list, or "Optional[int]" (None: the profile's value)
    default: Any
    help: str
    notebooks: tuple[str, ...] = ALL
    #: "standard" (what the runner sets for every notebook), "model" (the classifier explained), "classifier" (01's
    #: training settings, declared by every notebook that uses 01's classifier) or "" (the notebook's own).
    group: str = ""
    help_in: dict[str, str] = field(default_factory=dict)  # where one notebook says it in its own words
    #: The profile knob this parameter overrides where its name differs from the knob's (03's ``set_size`` sets
    #: ``tcav_set_size``); see :meth:`profile_knob`.
    knob: str = ""

    def profile_knob(self) -> str:
        """The profile knob that this parameter overrides (None in the cell: the profile's value), or "" when it is no
        knob (its None then means something of its own, e.g. 'class 3')."""
        from .config import PROFILES

        name = self.knob or self.name
        return name if self.default is None and all(name in knobs for knobs in PROFILES.values()) else ""

    def allowed(self) -> Allowed | None:
        return ALLOWED.get(self.name)

    def profile_value(self, profile: str) -> Any:
        """What the notebook uses under ``profile`` when the cell's default is None."""
        from .config import PROFILES

        knob = self.profile_knob()
        return PROFILES[profile][knob] if knob else self.default

    def line(self, notebook: str) -> str:
        """This parameter's line in ``notebook``'s parameters cell."""
        default = json.dumps(self.default, ensure_ascii=False) if isinstance(self.default, str) else repr(self.default)
        return f"{self.name}: {self.type} = {default}  # {self.help_in.get(notebook, self.help)}"


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("profile", "str", "default",
              "smoke | quick | paper | default: $XAI_PROFILE if set, else quick",
              group="standard"),
    Parameter("dataset", "str", "mnist5k",
              "mnist5k | mnist | fashion-mnist | cifar10 | imagefolder | shapes",
              group="standard",
              help_in={"05_gan_latent": "data set of the GAN explained in parts 1-3 (the disentanglement part always uses shapes)",
                       "06_evaluation": "data set of the augmentation study (the other tables read what the run holds)"}),
    Parameter("data_dir", "str", "",
              "folder of torchvision / imagefolder data; empty: $XAI_DATA_DIR or data/"),
    Parameter("device", "str", "auto",
              "auto (CUDA when present) | cpu | cuda",
              group="standard"),
    Parameter("seed", "int", 0,
              "seeds random, numpy and torch; part of every cache key",
              group="standard",
              help_in={"03_tcav": "seeds random, numpy and torch, the concept and random sets; part of every cache key",
                       "04_gan_dynamics": "seeds random, numpy and torch, the latents and the corruptions; part of every cache key",
                       "05_gan_latent": "seeds random, numpy and torch, every latent sample and direction; part of every cache key",
                       "06_evaluation": "seed of the augmentation classifiers, the synthetic samples and the bootstrap",
                       "07_explorer": "seeds random, numpy and torch; selects the study's cached models (part of every cache key)"}),
    Parameter("run_dir", "str", "",
              "run folder for metrics, figures, tables; empty: $XAI_RUN_DIR or results/runs/interactive",
              group="standard",
              help_in={"06_evaluation": "the study's run folder (its seed-N folders for several seeds); empty: $XAI_RUN_DIR or results/runs/interactive",
                       "07_explorer": "run folder for figures and exports; empty: $XAI_RUN_DIR or results/runs/interactive"}),
    Parameter("cache_dir", "str", "",
              "model cache; empty: $XAI_CACHE_DIR or results/cache",
              group="standard"),
    Parameter("image_size", "int", 32,
              "side of imagefolder images after resizing, and of shapes (32 or 64)",
              help_in={"04_gan_dynamics": "side of imagefolder images after resizing, and of shapes (the GAN: 28, 32 or 64 px, others resized)",
                       "05_gan_latent": "side of imagefolder images after resizing, and of shapes (the GAN: 28, 32 or 64 px, others resized)",
                       "06_evaluation": "side of imagefolder images after resizing, and of shapes (the GAN: 28, 32 or 64 px, others resized)",
                       "07_explorer": "side of imagefolder images after resizing, and of shapes (the GAN explorer: 28, 32 or 64 px)"}),
    Parameter("channels", "int", 3,
              "imagefolder images as 1 (grayscale) or 3 (RGB) channels"),
    Parameter("model_source", "str", "study",
              "study (the study's CNNs) | torchvision (model_name) | file (model_file): the classifier explained",
              notebooks=("01_cnn_training", "02_cnn_attribution", "03_tcav", "06_evaluation"),
              group="model",
              help_in={"06_evaluation": "study (the study's CNNs) | torchvision (model_name) | file (model_file): the classifier whose explanations are rated (01's)"}),
    Parameter("model_name", "str", "",
              "model_source torchvision: a torchvision classifier, e.g. resnet18, mobilenet_v3_small",
              notebooks=("01_cnn_training", "02_cnn_attribution", "03_tcav", "06_evaluation"),
              group="model"),
    Parameter("model_weights", "str", "",
              "state-dict file of the supplied model (plain tensors only); empty with torchvision: trained here",
              notebooks=("01_cnn_training", "02_cnn_attribution", "03_tcav", "06_evaluation"),
              group="model"),
    Parameter("model_file", "str", "",
              "model_source file: a TorchScript file, or module:factory (a function returning the untrained nn.Module)",
              notebooks=("01_cnn_training", "02_cnn_attribution", "03_tcav", "06_evaluation"),
              group="model"),
    Parameter("model_mean", "\"Optional[list]\"", None,
              "per-channel mean the supplied model normalises its input with; None: images in [0, 1] as they are",
              notebooks=("01_cnn_training", "02_cnn_attribution", "03_tcav", "06_evaluation"),
              group="model"),
    Parameter("model_std", "\"Optional[list]\"", None,
              "per-channel standard deviation of that normalisation; None: none",
              notebooks=("01_cnn_training", "02_cnn_attribution", "03_tcav", "06_evaluation"),
              group="model"),
    Parameter("gradcam_layer", "str", "",
              "module of the explained model for Grad-CAM and attenuation; empty: detected",
              notebooks=("01_cnn_training", "02_cnn_attribution", "03_tcav", "06_evaluation"),
              group="model"),
    Parameter("tcav_layers", "str", "",
              "comma-separated modules TCAV probes; empty: detected",
              notebooks=("01_cnn_training", "02_cnn_attribution", "03_tcav"),
              group="model"),
    Parameter("epochs", "\"Optional[int]\"", None,
              "classifier (01's, shared by every notebook that uses it): training epochs; None: the profile's value",
              group="classifier"),
    Parameter("batch_size", "\"Optional[int]\"", None,
              "classifier: minibatch size; None: the profile's value",
              group="classifier"),
    Parameter("lr", "\"Optional[float]\"", None,
              "classifier: peak learning rate of the one-cycle schedule; None: the profile's value",
              group="classifier"),
    Parameter("weight_decay", "\"Optional[float]\"", None,
              "classifier: AdamW weight decay; None: the profile's value",
              group="classifier"),
    Parameter("augment", "\"Optional[bool]\"", None,
              "classifier: small random affine transforms of training images; None: the profile's value",
              group="classifier"),
    Parameter("train_limit", "\"Optional[int]\"", None,
              "stratified subsample of the training split; None: the profile's value",
              group="classifier"),
    Parameter("test_limit", "\"Optional[int]\"", None,
              "stratified subsample of the test split; None: the profile's value",
              group="classifier"),
    Parameter("n_probe", "\"Optional[int]\"", None,
              "probe images followed over epochs; None: the profile's value",
              notebooks=("01_cnn_training",)),
    Parameter("n_explain", "\"Optional[int]\"", None,
              "test images explained by every method; None: the profile's value",
              notebooks=("02_cnn_attribution",)),
    Parameter("ig_steps", "\"Optional[int]\"", None,
              "Integrated Gradients steps; None: the profile's value",
              notebooks=("02_cnn_attribution", "07_explorer"),
              help_in={"07_explorer": "Integrated Gradients steps (the explorer's starting value); None: the profile's value"}),
    Parameter("lime_samples", "\"Optional[int]\"", None,
              "LIME / KernelSHAP perturbation samples; None: the profile's value",
              notebooks=("02_cnn_attribution", "07_explorer"),
              help_in={"07_explorer": "LIME / KernelSHAP samples (the explorer's starting value); None: the profile's value"}),
    Parameter("shortcut_class", "\"Optional[int]\"", None,
              "class whose evidence the planted patch becomes; None: 3 (the last class if fewer)",
              notebooks=("02_cnn_attribution", "07_explorer"),
              help_in={"07_explorer": "class whose evidence 02's planted patch became; None: 3 (the last class if fewer)"}),
    Parameter("patch_size", "\"Optional[int]\"", None,
              "side of the planted checkerboard patch in pixels; None: 1/7 of the image side (4 px at 28 px)",
              notebooks=("02_cnn_attribution", "07_explorer"),
              help_in={"07_explorer": "side of 02's planted checkerboard patch in pixels; None: 1/7 of the image side"}),
    Parameter("sanity_threshold", "float", 0.3,
              "a method passes the randomisation test if its final absolute Spearman is at most this",
              notebooks=("02_cnn_attribution",)),
    Parameter("set_size", "\"Optional[int]\"", None,
              "images per concept draw and per random set; None: the profile's value",
              notebooks=("03_tcav", "07_explorer"),
              help_in={"07_explorer": "concept tester: images per concept draw and per random set (as 03); None: the profile's value"},
              knob="tcav_set_size"),
    Parameter("n_random_sets", "\"Optional[int]\"", None,
              "random counterparts R (CAVs per concept and layer); None: the profile's value",
              notebooks=("03_tcav", "07_explorer"),
              help_in={"07_explorer": "concept tester: random counterparts R (CAVs per concept and layer); None: the profile's value"},
              knob="tcav_random_sets"),
    Parameter("n_controls", "\"Optional[int]\"", None,
              "random control concepts that check the test; None: the profile's value",
              notebooks=("03_tcav", "07_explorer"),
              help_in={"07_explorer": "concept tester: 03's random control concepts offered; None: the profile's value"},
              knob="tcav_controls"),
    Parameter("n_class_images", "\"Optional[int]\"", None,
              "test images per class that TCAV scores; None: the profile's value",
              notebooks=("03_tcav", "07_explorer"),
              help_in={"07_explorer": "concept tester: test images per class that TCAV scores; None: the profile's value"},
              knob="tcav_class_images"),
    Parameter("min_cav_accuracy", "float", 0.7,
              "CAVs below this held-out accuracy are flagged and left out of the test",
              notebooks=("03_tcav",)),
    Parameter("alpha", "float", 0.05,
              "family-wise error rate of the Holm correction over all tests",
              notebooks=("03_tcav",)),
    Parameter("target_class", "\"Optional[int]\"", None,
              "class whose training images get the planted pattern; None: 3 (the last class if fewer)",
              notebooks=("03_tcav",)),
    Parameter("pattern_size", "\"Optional[int]\"", None,
              "side of the planted checkerboard pattern in pixels; None: a fifth of the image side (6 px at 28 px)",
              notebooks=("03_tcav",)),
    Parameter("planting_rates", "list", [0.0, 0.5, 1.0],
              "shares of the target class's training images that carry the pattern",
              notebooks=("03_tcav",)),
    Parameter("concepts_dir", "str", "",
              "your own concepts, <concepts_dir>/<concept>/*.png, tested beside the study's; empty: none",
              notebooks=("03_tcav", "07_explorer"),
              help_in={"07_explorer": "concept tester: a folder of your own concepts, <concepts_dir>/<concept>/*.png; empty: 03's sets only"}),
    Parameter("conditional", "bool", False,
              "train the class-conditional DCGAN (one-hot labels into G and D)",
              notebooks=("04_gan_dynamics", "05_gan_latent", "06_evaluation", "07_explorer"),
              help_in={"05_gan_latent": "explain 04's class-conditional DCGAN instead of the unconditional one",
                       "06_evaluation": "use 04's class-conditional DCGAN (its own labels) instead of classifier-labelled samples",
                       "07_explorer": "explore 04's class-conditional DCGAN instead of the unconditional one"}),
    Parameter("gan_iterations", "\"Optional[int]\"", None,
              "04's GAN: training iterations; None: the profile's value",
              notebooks=("04_gan_dynamics", "05_gan_latent", "06_evaluation", "07_explorer"),
              help_in={"04_gan_dynamics": "GAN training iterations (one D and one G step each); None: the profile's value"}),
    Parameter("gan_batch_size", "\"Optional[int]\"", None,
              "04's GAN: minibatch size; None: the profile's value",
              notebooks=("04_gan_dynamics", "05_gan_latent", "06_evaluation", "07_explorer"),
              help_in={"04_gan_dynamics": "GAN minibatch size; None: the profile's value"}),
    Parameter("gan_lr", "\"Optional[float]\"", None,
              "04's GAN: Adam learning rate; None: the profile's value",
              notebooks=("04_gan_dynamics", "05_gan_latent", "06_evaluation", "07_explorer"),
              help_in={"04_gan_dynamics": "Adam learning rate of G and D, with beta1 0.5; None: the profile's value"}),
    Parameter("gan_width", "\"Optional[int]\"", None,
              "04's GAN: channel width; None: the profile's value",
              notebooks=("04_gan_dynamics", "05_gan_latent", "06_evaluation", "07_explorer"),
              help_in={"04_gan_dynamics": "channel width of G and D; None: the profile's value"}),
    Parameter("gan_z_dim", "\"Optional[int]\"", None,
              "04's GAN: latent dimension; None: the profile's value",
              notebooks=("04_gan_dynamics", "05_gan_latent", "06_evaluation", "07_explorer"),
              help_in={"04_gan_dynamics": "latent dimension; None: the profile's value"}),
    Parameter("gan_snapshot_every", "\"Optional[int]\"", None,
              "04's GAN: iterations between snapshots (part of its cache key); None: the profile's value",
              notebooks=("04_gan_dynamics", "05_gan_latent", "06_evaluation", "07_explorer"),
              help_in={"04_gan_dynamics": "iterations between stored weight snapshots; None: the profile's value"}),
    Parameter("fid_samples", "\"Optional[int]\"", None,
              "generated (and at most as many real) images per fidelity evaluation; None: the profile's value",
              notebooks=("04_gan_dynamics",)),
    Parameter("d_explain_images", "\"Optional[int]\"", None,
              "real and generated images whose discriminator maps are computed; None: the profile's value",
              notebooks=("04_gan_dynamics",)),
    Parameter("inception_weights", "str", "",
              "local torch-fidelity Inception-v3 weights (.pth) for an extra Inception FID; empty: not computed",
              notebooks=("04_gan_dynamics",)),
    Parameter("latent_samples", "\"Optional[int]\"", None,
              "latents whose full Jacobians are computed; None: the profile's value",
              notebooks=("05_gan_latent", "07_explorer"),
              help_in={"07_explorer": "latents whose exact Jacobians give the E[JᵀJ] directions; None: the profile's value"}),
    Parameter("direction_count", "\"Optional[int]\"", None,
              "directions per unsupervised finder (SeFa, GANSpace, E[JᵀJ], random); None: the profile's value",
              notebooks=("05_gan_latent",)),
    Parameter("interfacegan_samples", "\"Optional[int]\"", None,
              "labelled samples behind each InterFaceGAN boundary; None: the profile's value",
              notebooks=("05_gan_latent", "07_explorer"),
              help_in={"07_explorer": "latents behind GANSpace and each InterFaceGAN boundary; None: the profile's value"}),
    Parameter("latent_ig_steps", "\"Optional[int]\"", None,
              "Integrated Gradients steps through the generator; None: the profile's value",
              notebooks=("05_gan_latent",)),
    Parameter("dissection_samples", "\"Optional[int]\"", None,
              "samples the dissection statistics are pooled over; None: the profile's value",
              notebooks=("05_gan_latent",)),
    Parameter("shapes_gan_iterations", "\"Optional[int]\"", None,
              "training iterations of each shapes GAN; None: the profile's value",
              notebooks=("05_gan_latent", "07_explorer"),
              help_in={"07_explorer": "on shapes: 05's InfoGAN training iterations; None: the profile's value"}),
    Parameter("shapes_z_dim", "\"Optional[int]\"", None,
              "latent dimension of both shapes GANs; None: the profile's value",
              notebooks=("05_gan_latent", "07_explorer"),
              help_in={"07_explorer": "on shapes: latent dimension of 05's GANs; None: the profile's value"}),
    Parameter("info_codes", "\"Optional[int]\"", None,
              "InfoGAN: how many of the shapes_z_dim latents are U(-1, 1) codes; None: the profile's value",
              notebooks=("05_gan_latent", "07_explorer"),
              help_in={"07_explorer": "on shapes: how many latents are InfoGAN codes; None: the profile's value"}),
    Parameter("info_weight", "\"Optional[float]\"", None,
              "InfoGAN: weight λ of the mutual-information term; None: the profile's value",
              notebooks=("05_gan_latent", "07_explorer"),
              help_in={"07_explorer": "on shapes: InfoGAN's mutual-information weight; None: the profile's value"}),
    Parameter("cr_weight", "\"Optional[float]\"", None,
              "InfoGAN-CR: weight of the contrastive regulariser (0: plain InfoGAN); None: the profile's value",
              notebooks=("05_gan_latent", "07_explorer"),
              help_in={"07_explorer": "on shapes: InfoGAN-CR's contrastive weight; None: the profile's value"}),
    Parameter("regressor_epochs", "\"Optional[int]\"", None,
              "epochs of the shapes factor regressor; None: the profile's value",
              notebooks=("05_gan_latent", "07_explorer"),
              help_in={"07_explorer": "on shapes: epochs of 05's factor regressor; None: the profile's value"}),
    Parameter("disentangle_samples", "\"Optional[int]\"", None,
              "samples per disentanglement evaluation; None: the profile's value",
              notebooks=("05_gan_latent",)),
    Parameter("augment_synthetic", "\"Optional[int]\"", None,
              "GAN samples added to (or replacing) the real training images; None: the profile's value",
              notebooks=("06_evaluation",)),
    Parameter("low_data_fraction", "float", 0.1,
              "share of the real training split in the low-data regime",
              notebooks=("06_evaluation",)),
    Parameter("ratings_dir", "str", "",
              "folder of human ratings (<rater>.csv); empty: results/human_ratings",
              notebooks=("06_evaluation",)),
    Parameter("rating_images", "\"Optional[int]\"", None,
              "test images whose explanations raters see; None: the profile's value",
              notebooks=("06_evaluation",)),
    Parameter("interactive", "bool", False,
              "show the rating form (ipywidgets) instead of the static grid of items",
              notebooks=("06_evaluation", "07_explorer"),
              help_in={"07_explorer": "True: show the forms (JupyterLab); False: one static view per explorer (headless runs)"}),
    Parameter("rater", "str", "",
              "your rater id for the rating form (letters, digits, _ or -)",
              notebooks=("06_evaluation",)),
)
BY_NAME = {p.name: p for p in PARAMETERS}
#: A supplied classifier's parameters and their defaults (the study's own CNN).
MODEL_PARAMETERS = {p.name: p.default for p in PARAMETERS if p.group == "model"}
#: 01's training settings (the classifier and the data subset it is trained and tested on). Every notebook that uses
#: 01's classifier declares all of them, so ``-p epochs 5`` reaches each one, and each explains, probes and measures
#: the very model 01 reports (one cache entry).
CLASSIFIER_PARAMETERS = tuple(p.name for p in PARAMETERS if p.group == "classifier")


def parameters_cell(notebook: str) -> str:
    """The text of ``notebook``'s parameters cell, as the table says."""
    if notebook not in NOTEBOOKS:
        raise ValueError(f"notebook {notebook!r} is not one of the study's: {', '.join(NOTEBOOKS)}")
    return "\n".join(p.line(notebook) for p in PARAMETERS if notebook in p.notebooks)
