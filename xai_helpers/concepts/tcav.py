"""TCAV (Kim et al. 2018) done right: captum's machinery, an honest CAV accuracy, a significance test.

captum's :class:`~captum.concept.TCAV` computes the layer activations of every concept once (stored on disk
under ``save_path``, keyed by ``model_id``) and trains the CAVs. Three of its traps are avoided here:

* its ``DefaultClassifier`` reports a wrong accuracy for two-concept sets (an argmax over a single logit, i.e.
  the share of one class in its test split): :class:`HeldOutLinearClassifier` measures it on a held-out,
  stratified split;
* its disk cache is keyed only by ``model_id``, concept ids and layer: :func:`checkpoint_id` hashes the weights
  themselves, and every study uses a fresh ``save_path``;
* it has no significance test: :func:`tcav_study` scores ``R`` draws of each concept against ``R`` random
  counterparts, and ``R`` further random sets against the same counterparts (the null), :func:`compare_with_null` runs a two-sided
  paired t-test per (concept, class, layer), and :func:`xai_helpers.concepts.significance.correct` applies Holm's
  correction over all tests.

The directional derivatives are computed here from captum's CAVs (:func:`directional_derivatives`) rather than
with ``TCAV.interpret``: the sign count is the same quantity (a test checks it against ``interpret``), but
``interpret`` reports the plain mean of the derivatives as "magnitude" instead of Kim et al.'s
Σ max(S, 0) / Σ |S|, and it re-converts every CAV to Python lists for each class.
"""
from __future__ import annotations

import contextlib
import difflib
import hashlib
import random
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from captum.attr import LayerGradientXActivation
from captum.concept import Classifier, Concept, TCAV
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC
from torch import nn

from ..cnn import tcav_layer_names
from .significance import paired_t_test

_SET_NAME = re.compile(r"^[A-Za-z0-9_#-]+$")


def checkpoint_id(model: nn.Module) -> str:
    """``ckpt-`` + SHA-256 (16 hex digits) of the model's weights and buffers: captum's ``model_id``.

    Any change of a weight gives another id, so captum's activation/CAV store can never serve another model's.
    """
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return "ckpt-" + h.hexdigest()[:16]


class HeldOutLinearClassifier(Classifier):
    """A linear SVM whose accuracy is measured on a held-out stratified split; its normal vector is the CAV.

    Written because captum's ``DefaultClassifier`` takes an argmax over a single logit for two concepts and so
    reports the share of one class in its test split as "accuracy". The model is the hinge-loss, L2-regularised
    linear classifier of Kim et al.'s reference implementation, fitted on the training part only (the one whose
    accuracy is reported) and solved in the dual on the Gram matrix with libsvm: a concept set holds far fewer
    images than a layer has units, so the n×n kernel is 3–4× faster than liblinear on the n×F activations.
    The CAV is w = Σᵢ αᵢyᵢxᵢ. Deterministic: the split is seeded and libsvm draws nothing at random.
    """

    def __init__(self, test_fraction: float = 0.33, seed: int = 0, C: float = 1.0) -> None:
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
        self.test_fraction, self.seed, self.C = test_fraction, seed, C
        self.svm: SVC | None = None
        self.w: np.ndarray | None = None

    def train_and_eval(self, dataloader, **kwargs) -> dict:
        xs, ys = zip(*[(x.detach().cpu(), y.detach().cpu()) for x, y in dataloader])
        x, y = torch.cat(xs).double().numpy(), torch.cat(ys).numpy()
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=self.test_fraction, stratify=y,
                                                  random_state=self.seed)
        self.svm = SVC(kernel="precomputed", C=self.C).fit(x_tr @ x_tr.T, y_tr)
        self.w = self.svm.dual_coef_[0] @ x_tr[self.svm.support_]  # decision > 0 means classes_[1]
        accuracy = float((self.svm.predict(x_te @ x_tr.T) == y_te).mean())
        return {"accs": torch.tensor(accuracy), "n_train": len(y_tr), "n_test": len(y_te)}

    def weights(self) -> torch.Tensor:
        """(2, F): row i points towards class ``classes()[i]`` (captum's convention: ±w)."""
        w = torch.from_numpy(self.w).float()
        return torch.stack([-w, w])

    def classes(self) -> list[int]:
        return [int(c) for c in self.svm.classes_]


class _InputBatches:
    """Re-iterable input-only batches on a device: what captum's concept ``data_iter`` must yield."""

    def __init__(self, images: torch.Tensor, batch_size: int, device: torch.device):
        self.images, self.batch_size, self.device = images, batch_size, device

    def __iter__(self):
        for i in range(0, len(self.images), self.batch_size):
            yield self.images[i:i + self.batch_size].to(self.device)


@dataclass(frozen=True)
class CAVResult:
    vector: torch.Tensor  # (F,) pointing from the counterpart towards the concept, in flattened activations
    accuracy: float  # held-out accuracy of the linear classifier behind it


def compute_cavs(model: nn.Module, layers: list[str], sets: dict[str, torch.Tensor],
                 pairs: list[tuple[str, str]], save_path: str | Path, *, seed: int = 0,
                 batch_size: int = 64) -> dict[tuple[str, str], dict[str, CAVResult]]:
    """CAVs of ``concept`` vs ``counterpart`` for every pair and layer, with captum's TCAV.

    Activations are computed once per (model, set, layer) and reused by every pair that contains the set.
    captum stores them and the CAVs under ``save_path`` keyed by ``model_id`` and concept *ids*, so a folder
    that already holds this checkpoint's files is refused: its entries could belong to other images.
    """
    unknown = sorted({name for pair in pairs for name in pair} - set(sets))
    if unknown:
        raise ValueError(f"pairs name unknown sets {unknown}; known: {', '.join(sets)}")
    bad = [name for name in sets if not _SET_NAME.match(name)]
    if bad:  # captum finds stored activations by glob patterns built from these names
        raise ValueError(f"set names must be letters, digits, '_', '-' or '#', got {bad}")
    check_layers(model, layers)
    model_id = checkpoint_id(model)
    folders = (Path(save_path) / model_id, Path(save_path) / "av" / model_id)
    used = [d for d in folders if d.exists() and any(d.iterdir())]
    if used:
        raise ValueError(f"save_path {str(save_path)!r} already holds captum activations or CAVs of checkpoint "
                         f"{model_id}; captum keys them by concept id only, so they may belong to other images. "
                         f"Use a fresh folder.")
    device = next(model.parameters()).device
    model.eval()
    concepts = {name: Concept(i, name, _InputBatches(images, batch_size, device))
                for i, (name, images) in enumerate(sets.items())}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="captum")
        tcav = TCAV(model, layers, model_id=model_id,
                    classifier=HeldOutLinearClassifier(seed=seed), save_path=str(save_path))
        cavs = tcav.compute_cavs([[concepts[a], concepts[b]] for a, b in pairs])
    out = {}
    for a, b in pairs:
        key = f"{concepts[a].id}-{concepts[b].id}"
        out[(a, b)] = {}
        for layer in layers:
            st = cavs[key][layer].stats
            row = list(st["classes"]).index(concepts[a].id)
            out[(a, b)][layer] = CAVResult(st["weights"][row].detach().cpu().float(), float(st["accs"]))
    return out


def check_layers(model: nn.Module, layers) -> None:
    """Refuse layer names that are no module of ``model``, naming the close matches."""
    names = [name for name, _ in model.named_modules() if name]
    for layer in layers:
        if layer not in names:
            close = difflib.get_close_matches(layer, names, n=3)
            raise ValueError(f"{type(model).__name__} has no layer {layer!r}"
                             + (f"; did you mean {', '.join(close)}?" if close else f"; layers: {', '.join(names)}"))


def layer_gradients(model: nn.Module, layer: str, inputs: torch.Tensor, target: int,
                    batch_size: int = 256) -> torch.Tensor:
    """(N, F) gradients of logit ``target`` w.r.t. the flattened output of ``layer`` (what TCAV projects)."""
    module = dict(model.named_modules())[layer]
    device = next(model.parameters()).device
    attr = LayerGradientXActivation(model, module, multiply_by_inputs=False)
    grads = [attr.attribute(inputs[i:i + batch_size].to(device), target=target).detach().flatten(1).cpu()
             for i in range(0, len(inputs), batch_size)]
    return torch.cat(grads)


def directional_derivatives(gradients: torch.Tensor, cavs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """TCAV scores of every CAV over the inputs whose layer gradients are given.

    ``S = ∇h f_c(x) · v`` per input and CAV; sign count = share of inputs with ``S > 0`` (the TCAV score);
    magnitude = ``Σ max(S, 0) / Σ |S|`` (Kim et al.), 0 where every derivative is 0. Returns two (K,) arrays.
    """
    s = gradients.double() @ cavs.double().T  # (N, K)
    sign = (s > 0).double().mean(0)
    total = s.abs().sum(0)
    magnitude = torch.where(total > 0, s.clamp_min(0).sum(0) / total.clamp_min(1e-300), torch.zeros_like(total))
    return sign.numpy(), magnitude.numpy()


def tcav_study(model: nn.Module, layers: list[str], concepts: dict[str, list[torch.Tensor]],
               counterparts: list[torch.Tensor], null: list[torch.Tensor], class_inputs: dict[int, torch.Tensor], *,
               controls: dict[str, list[torch.Tensor]] | None = None, seed: int = 0, batch_size: int = 64,
               save_path: str | Path | None = None, progress: bool = False) -> pd.DataFrame:
    """Score every concept (and random control) against every random counterpart, and the null.

    Every concept, control and ``null`` is a list of ``R`` draws, draw ``i`` being set against
    ``counterparts[i]``; ``null[i]`` vs ``counterparts[i]`` are the random-vs-random scores. Returns a long table
    with one row per (pair, layer, class): ``concept``, ``role`` (concept | control | baseline: the null),
    ``draw``, ``layer``, ``class_index``, ``tcav_score`` (sign count), ``magnitude``, ``cav_accuracy``.
    ``save_path`` (captum's activation and CAV store) defaults to a temporary folder removed afterwards.
    """
    r = len(counterparts)
    if r < 2:
        raise ValueError(f"need at least 2 random counterparts, got {r}")
    controls = controls or {}
    clash = sorted(set(concepts) & set(controls))
    reserved = sorted(name for name in [*concepts, *controls] if name.startswith(("random_set", "null_set")))
    if clash or reserved:
        raise ValueError(f"concept and control names must be unique and must not start with 'random_set' or "
                         f"'null_set' (reserved for the random sets); offending: {clash + reserved}")
    short = {name: len(d) for name, d in {**concepts, **controls, "null": null}.items() if len(d) != r}
    if short:
        raise ValueError(f"every concept, control and the null need one draw per counterpart ({r}); got {short}")
    names = [f"random_set_{i:02d}" for i in range(r)]
    sets, pairs, meta = dict(zip(names, counterparts)), [], []
    for role, group in (("concept", concepts), ("control", controls), ("baseline", {"random": null})):
        for name, draws in group.items():
            for i, images in enumerate(draws):
                key = f"null_set_{i:02d}" if role == "baseline" else f"{name}#{i:02d}"
                sets[key] = images
                pairs.append((key, names[i]))
                meta.append((name, role, i))
    store = tempfile.TemporaryDirectory(prefix="tcav-") if save_path is None else contextlib.nullcontext(save_path)
    with store as folder:
        cavs = compute_cavs(model, layers, sets, pairs, folder, seed=seed, batch_size=batch_size)
    rows = []
    jobs = [(layer, cls) for layer in layers for cls in class_inputs]
    if progress:
        from tqdm.auto import tqdm
        jobs = tqdm(jobs, desc="TCAV scores", unit="class×layer")
    for layer, cls in jobs:
        grads = layer_gradients(model, layer, class_inputs[cls], int(cls))
        vectors = torch.stack([cavs[p][layer].vector for p in pairs])
        sign, magnitude = directional_derivatives(grads, vectors)
        for pair, (concept, role, draw), sc, mg in zip(pairs, meta, sign, magnitude):
            rows.append({"concept": concept, "role": role, "draw": draw, "layer": layer, "class_index": int(cls),
                         "tcav_score": float(sc), "magnitude": float(mg), "cav_accuracy": cavs[pair][layer].accuracy})
    return pd.DataFrame(rows)


def compare_with_null(table: pd.DataFrame, min_cav_accuracy: float = 0.7, min_cavs: int = 3) -> pd.DataFrame:
    """One row per (concept, class, layer): mean scores, the paired t-test against the null, flags.

    Draw ``i`` of a concept and null score ``i`` share counterpart ``i`` (and, for transformed concepts, the
    source images) and nothing else, so they are compared pairwise: a paired t-test of the concept's scores
    against the random-vs-random scores, whose differences are independent across ``i``. Concept CAVs whose held-out accuracy is below ``min_cav_accuracy`` are flagged and
    their pairs left out (a CAV that does not separate the concept from random images is no concept
    direction). If that leaves fewer than ``min_cavs`` pairs or fewer than half of them, the cell is not
    tested (``tested`` False, ``p_value`` None): the concept has no reliable direction in that layer, and
    testing its lucky draws would select on chance. Random controls are tested without the filter: their CAVs
    separate nothing by construction, and they exist to check that the test finds nothing in random directions.
    ``tcav_score`` and ``magnitude`` are means over the kept CAVs, or over all of them where none is kept.
    """
    if not 0.0 <= min_cav_accuracy <= 1.0:
        raise ValueError(f"min_cav_accuracy must be in [0, 1], got {min_cav_accuracy!r}")
    if min_cavs < 2:
        raise ValueError(f"min_cavs must be at least 2 (a t-test needs two pairs), got {min_cavs!r}")
    null = {key: g.set_index("draw").tcav_score
            for key, g in table[table.role == "baseline"].groupby(["layer", "class_index"])}
    out = []
    groups = table[table.role != "baseline"].groupby(["concept", "role", "layer", "class_index"], sort=False)
    for (concept, role, layer, cls), g in groups:
        keep = g if role == "control" else g[g.cav_accuracy >= min_cav_accuracy]
        ref = null[(layer, cls)]
        row = {"concept": concept, "role": role, "layer": layer, "class_index": cls,
               "tcav_score": float(keep.tcav_score.mean()) if len(keep) else float(g.tcav_score.mean()),
               "tcav_score_std": float(keep.tcav_score.std(ddof=1)) if len(keep) > 1 else None,
               "magnitude": float(keep.magnitude.mean()) if len(keep) else float(g.magnitude.mean()),
               "null_score": float(ref.mean()), "null_score_std": float(ref.std(ddof=1)),
               "cav_accuracy": float(g.cav_accuracy.mean()), "cav_accuracy_min": float(g.cav_accuracy.min()),
               "n_cavs": len(g), "n_cavs_flagged": len(g) - len(keep),
               "tested": len(keep) >= max(min_cavs, (len(g) + 1) // 2)}
        if row["tested"]:
            row["p_value"], row["effect_size"] = paired_t_test(keep.tcav_score.to_numpy(),
                                                               ref.loc[keep.draw.to_numpy()].to_numpy())
        else:
            row["p_value"], row["effect_size"] = None, None
        out.append(row)
    return pd.DataFrame(out)


def default_layers(model: nn.Module) -> dict[str, str]:
    """TCAV layers of a classifier: the first convolution and the last one (their ReLU outputs; the last is
    ``model.cam_layer``), and the last hidden layer taken *before* its ReLU.

    Why before: behind the last hidden ReLU the head is linear, so ∂f_c/∂h is the same vector for every input
    and every CAV scores exactly 0 or 1; before the ReLU its on/off pattern makes the derivative depend on x.
    """
    modules = list(model.named_modules())
    conv = next((i for i, (_, m) in enumerate(modules) if isinstance(m, nn.Conv2d)), None)
    first = None if conv is None else next((n for n, m in modules[conv + 1:] if isinstance(m, nn.ReLU)), None)
    last = next((n for n, m in modules if m is getattr(model, "cam_layer", None)), None)
    linears = [n for n, m in modules if isinstance(m, nn.Linear)]
    if first is None or last is None or len(linears) < 2:
        raise ValueError(f"{type(model).__name__} needs a convolution with a ReLU, a cam_layer and a two-layer "
                         f"head for the default TCAV layers; pass layer names instead")
    return {"first convolution": first, "last convolution": last, "last hidden layer": linears[-2]}


def probed_layers(model: nn.Module, supplied: bool) -> tuple[dict[str, str], str]:
    """The layers TCAV probes in ``model`` ({label: module name}) and the one the planted concept is summarised at.
    A ``supplied`` model (the user's) is probed where :func:`~xai_helpers.cnn.model_sources.attach_layers` chose
    (first, Grad-CAM and deepest feature maps, or ``tcav_layers``), summarised at the deepest; the study's CNN at
    :func:`default_layers`, summarised at its last hidden layer."""
    if supplied:
        layers = tcav_layer_names(model)
        return layers, list(layers.values())[-1]
    layers = default_layers(model)
    return layers, layers["last hidden layer"]


def class_inputs(images: torch.Tensor, labels: torch.Tensor, n: int | None) -> dict[int, torch.Tensor]:
    """The first ``n`` images of every class (all of them for ``None``): the inputs TCAV scores a class over."""
    if n is not None and n < 1:
        raise ValueError(f"the number of images per class must be positive or None, got {n!r}")
    return {int(c): images[labels == c][:n] for c in torch.unique(labels)}


def nested_metrics(results: pd.DataFrame, class_names, fields=("tcav_score", "magnitude", "p_value",
                                                               "p_value_corrected", "significant", "cav_accuracy",
                                                               "effect_size", "tested")) -> dict:
    """``concept → class name → layer → {field: value}`` from a corrected results table."""
    out: dict = {}
    for row in results.itertuples(index=False):
        cell = out.setdefault(row.concept, {}).setdefault(str(class_names[row.class_index]), {})
        cell[row.layer] = {f: json_value(getattr(row, f)) for f in fields}
    return out


def significant_pairs(rows: pd.DataFrame, class_names) -> str:
    """``concept→class (score), …`` of result rows, for a printed summary ("none" for no rows)."""
    return ", ".join(f"{r.concept}→{class_names[r.class_index]} ({r.tcav_score:.2f})" for r in rows.itertuples()) or "none"


def json_value(value):
    """A table cell as a metrics value: NaN and None as None (JSON null), numpy scalars as Python ones."""
    if value is None or (isinstance(value, (float, np.floating)) and np.isnan(value)):
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    return float(value) if isinstance(value, (np.floating, float, int, np.integer)) else value


def captum_accuracy_comparison(model: nn.Module, layer: str, concept: torch.Tensor, counterpart: torch.Tensor,
                               seed: int = 0) -> dict:
    """Held-out CAV accuracy of one concept-vs-counterpart pair: ours, and what captum's DefaultClassifier says.

    Returns ``ours``, ``captum_default`` and ``captum_class_share`` (the share of the first class in captum's
    own test split, which is what its "accuracy" reduces to for two concepts).
    """
    from captum.attr import LayerActivation
    # Private, but it is the very split captum's accuracy is computed on; reading it is the point here.
    from captum.concept._utils.classifier import DefaultClassifier, _train_test_split
    from torch.utils.data import DataLoader, TensorDataset

    check_layers(model, [layer])
    module = dict(model.named_modules())[layer]
    device = next(model.parameters()).device
    with torch.no_grad():
        acts = torch.cat([LayerActivation(model, module).attribute(s.to(device)).flatten(1).cpu()
                          for s in (concept, counterpart)])
    labels = torch.cat([torch.zeros(len(concept)), torch.ones(len(counterpart))]).long()
    loader = DataLoader(TensorDataset(acts, labels), batch_size=len(labels))
    # captum shuffles with Python's random, its SGD draws from numpy's global generator and iterating a
    # DataLoader draws from torch's: seed them for this comparison and give each its state back afterwards.
    states = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        try:
            random.seed(seed)
            np.random.seed(seed)
            torch.manual_seed(seed)
            ours = HeldOutLinearClassifier(seed=seed).train_and_eval(loader)["accs"]
            theirs = DefaultClassifier().train_and_eval(loader)["accs"]
            random.seed(seed)  # the same shuffle again, to read captum's test split
            _, _, _, y_test = _train_test_split(acts, labels, test_split=0.33)
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])
    return {"ours": float(ours), "captum_default": float(theirs),
            "captum_class_share": float((y_test == 0).float().mean())}
