"""Offline fidelity: our classifier as torch-fidelity's feature extractor, coverage, calibration sets."""
import math
import re
import socket
import urllib.request

import numpy as np
import pytest
import torch
import torch_fidelity
from torch import nn

from xai_helpers.cnn.models import PlainCNN
from xai_helpers.gan import fidelity as F
from xai_helpers.gan.intra_class import intra_class_fid


def _blobs(n, seed=0):
    """Images (n, 1, 28, 28) in [0, 1]: one bright blob per image, in one of four quadrants (its class)."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 4
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    cy = 7 + 14 * (labels // 2).float() + torch.randn(n, generator=gen) * 2
    cx = 7 + 14 * (labels % 2).float() + torch.randn(n, generator=gen) * 2
    r = 3 + torch.rand(n, generator=gen) * 2
    d2 = (yy[None] - cy[:, None, None]) ** 2 + (xx[None] - cx[:, None, None]) ** 2
    return torch.exp(-d2 / (2 * r[:, None, None] ** 2)).unsqueeze(1), labels


class QuadrantClassifier(nn.Module):
    """Logits = mean brightness of each quadrant (× 50): a classifier that is right on :func:`_blobs` by design."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool2d(14)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            self.hidden = nn.Linear(4, 64)  # unused by the logits; gives the extractor a hidden layer
        self.scale = nn.Parameter(torch.tensor(50.0))

    def forward(self, x):
        q = self.pool(x).flatten(1)
        self.hidden(q)
        return q * self.scale


@pytest.fixture(scope="module")
def extractor():
    torch.manual_seed(0)
    model = PlainCNN(width=4, hidden=64).eval()
    x, _ = _blobs(64, seed=1)
    return F.register_classifier_features(model, x), model


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Any network access fails; torch's and torch-fidelity's caches point into an empty folder."""
    def refuse(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home"


def test_network_is_really_blocked(offline):
    with pytest.raises(OSError, match="network access"):
        urllib.request.urlopen("https://example.org")


def test_registered_extractor_runs_offline_and_writes_no_cache(extractor, offline):
    name, model = extractor
    assert name.startswith("xai-classifier-") and name in torch_fidelity.registry.FEATURE_EXTRACTORS_REGISTRY
    x, _ = _blobs(60, seed=2)
    y, _ = _blobs(60, seed=3)
    m = F.fidelity_metrics(x, y, name, kid_subsets=5, isc_splits=3)
    assert set(m) == {"fid", "kid_mean", "kid_std", "inception_score", "inception_score_std", "precision", "recall",
                      "f_score", "density", "coverage"}
    assert all(math.isfinite(v) for v in m.values())
    assert not offline.exists()  # torch-fidelity's file cache stays off


def test_name_carries_the_weights_hash(extractor):
    name, model = extractor
    x, _ = _blobs(32, seed=2)
    assert F.register_classifier_features(model, _blobs(64, seed=1)[0]) == name  # same weights and reference
    assert F.register_classifier_features(model, x) != name  # another reference set gives another feature scale
    other = PlainCNN(width=4, hidden=64).eval()
    with torch.no_grad():
        other.load_state_dict(model.state_dict())
        other.classifier[-1].bias += 1.0
    assert F.register_classifier_features(other, _blobs(64, seed=1)[0]) != name  # only the weights differ
    assert F.extractor_info(name)["weights_sha256_12"] == F.weights_hash(model) != F.weights_hash(other)


def test_hidden_features_have_unit_mean_square_on_the_reference(extractor):
    name, model = extractor
    x, _ = _blobs(64, seed=1)
    extractor_module = F.ClassifierFeatures(name, ["hidden", "logits"])
    hidden, logits = extractor_module(F.to_uint8(x))
    assert hidden.shape == (64, 64) and logits.shape == (64, 10)
    assert hidden.pow(2).mean().item() == pytest.approx(1.0, rel=0.02)  # uint8 rounding only
    with torch.no_grad():
        assert torch.allclose(logits, model(F.to_uint8(x).float() / 255), atol=1e-5)


def test_two_registered_extractors_keep_their_own_classifiers(extractor):
    name_a, model_a = extractor
    x, _ = _blobs(64, seed=1)
    torch.manual_seed(1)
    model_b = PlainCNN(width=4, hidden=64).eval()
    name_b = F.register_classifier_features(model_b, x)
    assert name_b != name_a
    u8 = F.to_uint8(x[:8])
    logits_a = F.ClassifierFeatures(name_a, ["logits"])(u8)[0]
    logits_b = F.ClassifierFeatures(name_b, ["logits"])(u8)[0]
    with torch.no_grad():
        assert torch.allclose(logits_a, model_a(u8.float() / 255), atol=1e-5)
        assert torch.allclose(logits_b, model_b(u8.float() / 255), atol=1e-5)
    assert not torch.allclose(logits_a, logits_b)


def test_extractor_refuses_float_images(extractor):
    module = F.ClassifierFeatures(extractor[0], ["hidden"])
    with pytest.raises(TypeError, match="uint8"):
        module(torch.rand(2, 1, 28, 28))


def test_fid_of_a_set_with_itself_is_zero_and_rises_under_corruption(extractor):
    name, _ = extractor
    x, _ = _blobs(200, seed=4)
    same = F.fidelity_metrics(x, x, name, kid_subsets=20)
    noisy = F.fidelity_metrics(F.corrupt(x, "noise", 0.3, seed=0), x, name, kid_subsets=20)
    other_draw = F.fid(_blobs(200, seed=9)[0], x, name)  # the same distribution, other images
    assert abs(same["fid"]) < 1e-3 * other_draw
    assert noisy["fid"] > 10 * other_draw
    # KID of identical sets: ≈ 0 next to a corrupted set's (the unbiased estimator may go slightly negative).
    assert abs(same["kid_mean"]) < 0.02 * noisy["kid_mean"]
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert noisy["density"] < same["density"] and noisy["coverage"] < same["coverage"]
    assert F.fid(x, x, name) == pytest.approx(same["fid"], abs=1e-6)


def test_corruption_ladder_is_nested_and_fid_rises_with_strength():
    x, y = _blobs(200, seed=5)
    name = F.register_classifier_features(QuadrantClassifier(), x, hidden_layer="hidden")
    ladder = F.corruption_ladder(x, {"noise": (0.4, 0.1, 0.2), "blur": (1.0, 2.0, 4.0), "occlusion": (0.2, 0.4, 0.6)},
                                 seed=3)
    assert [s for s, _ in ladder["noise"]] == [0.1, 0.2, 0.4]
    masks = [(img == 0) & (x > 0) for _, img in ladder["occlusion"]]
    assert all(bool((a <= b).all()) for a, b in zip(masks, masks[1:]))  # the squares grow around the same centres
    reference = _blobs(200, seed=6)[0]
    floor = F.fid(x, reference, name)
    for kind, steps in ladder.items():
        fids = [floor] + [F.fid(img, reference, name) for _, img in steps]
        assert all(b > a for a, b in zip(fids, fids[1:])), (kind, fids)


def test_corrupt_validates_and_strength_zero_is_identity():
    x, _ = _blobs(8)
    assert torch.equal(F.corrupt(x, "blur", 0.0), x)
    assert torch.equal(F.corrupt(x, "noise", 0.0), x)
    blurred = F.corrupt(x, "blur", 1.5)
    assert blurred.max() < x.max() and blurred.sum().item() == pytest.approx(x.sum().item(), rel=0.05)
    with pytest.raises(ValueError, match="unknown corruption 'jpeg'"):
        F.corrupt(x, "jpeg", 1.0)
    with pytest.raises(ValueError, match="share of the image side"):
        F.corrupt(x, "occlusion", 2.0)
    with pytest.raises(ValueError, match="non-negative"):
        F.corrupt(x, "noise", -0.1)


def test_class_coverage_definitions():
    one = F.class_coverage([0, 0, 50, 0])
    assert one == {"classes_covered": 1, "class_kl": pytest.approx(math.log(4))}
    assert F.class_coverage([25, 25, 25, 25]) == {"classes_covered": 4, "class_kl": pytest.approx(0.0)}
    # 2 of 1000 samples (under a tenth of the uniform share of 250) do not cover a class.
    assert F.class_coverage([499, 499, 2, 0])["classes_covered"] == 2
    with pytest.raises(ValueError, match="positive total"):
        F.class_coverage([0, 0])


def test_collapsed_generator_covers_one_class():
    x, y = _blobs(200, seed=6)
    clf = QuadrantClassifier()
    assert np.array_equal(F.class_histogram(clf, x, 4), np.bincount(y.numpy(), minlength=4))  # the judge is right
    collapsed = F.collapsed_samples(x, y, 2, 300, seed=0)
    hist = F.class_histogram(clf, collapsed, 4)
    assert hist.tolist() == [0, 0, 300, 0]
    assert F.class_coverage(hist)["classes_covered"] == 1
    with pytest.raises(ValueError, match="class 7 has no images"):
        F.collapsed_samples(x, y, 7, 10)


def test_collapsed_generator_scores_worse_than_real_data():
    x, y = _blobs(400, seed=7)
    clf = QuadrantClassifier()
    name = F.register_classifier_features(clf, x, hidden_layer="hidden")
    reference, other = x[:200], x[200:]
    real = F.fidelity_metrics(other, reference, name, kid_subsets=10)
    collapsed = F.fidelity_metrics(F.collapsed_samples(other, y[200:], 0, 200), reference, name, kid_subsets=10)
    assert collapsed["fid"] > 10 * real["fid"]
    assert collapsed["recall"] < real["recall"] and collapsed["inception_score"] < real["inception_score"]
    assert collapsed["coverage"] < real["coverage"]  # one class covers few of the real neighbourhoods


def test_density_and_coverage_are_read_in_the_features_torch_fidelity_uses(extractor):
    """prdc's precision and recall at torch-fidelity's k = 3, on :func:`scaled_features`, equal torch-fidelity's own:
    density and coverage are measured in the very features of FID and precision, not in a look-alike."""
    from prdc import compute_prdc

    name, _ = extractor
    x, y = _blobs(120, seed=2)[0], _blobs(120, seed=3)[0]
    ours = F.fidelity_metrics(x, y, name, kid_subsets=5, isc_splits=3)
    theirs = compute_prdc(F.scaled_features(name, y), F.scaled_features(name, x), nearest_k=3)
    assert ours["precision"] == pytest.approx(theirs["precision"]) and ours["recall"] == pytest.approx(theirs["recall"])
    assert ours["precision"] < 1  # a case where the features matter
    assert ours["density"] == pytest.approx(compute_prdc(F.scaled_features(name, y), F.scaled_features(name, x),
                                                         nearest_k=5)["density"])


def test_fidelity_metrics_validates(extractor):
    x, _ = _blobs(40)
    with pytest.raises(ValueError, match="unknown feature extractor 'inception-v3-compat'"):
        F.fidelity_metrics(x, x, "inception-v3-compat")
    with pytest.raises(ValueError, match="at least 20 images"):
        F.fidelity_metrics(x[:10], x, extractor[0])
    with pytest.raises(ValueError, match="kid_subset_size 100 exceeds"):
        F.fidelity_metrics(x, x, extractor[0], kid_subset_size=100)
    with pytest.raises(ValueError, match="no Linear layer"):
        F.register_classifier_features(nn.Sequential(nn.Conv2d(1, 2, 3)), x)


def test_uint8_conversion_rounds_and_clamps():
    x = torch.tensor([-0.1, 0.0, 0.5, 1.0, 1.2]).view(1, 1, 1, 5)
    assert F.to_uint8(x).flatten().tolist() == [0, 0, 128, 255, 255]
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        F.Uint8Images(torch.rand(3, 28, 28))


def test_inception_fid_needs_local_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="Inception weights not found"):
        F.inception_fid(torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28), tmp_path / "missing.pth")


def test_inception_fid_refuses_a_pickle_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save({"net": QuadrantClassifier()}, path)  # a pickled module, not tensors
    with pytest.raises(ValueError, match="not a plain state dict .*holds a pickled Python object") as refused:
        F.inception_fid(torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28), path)
    assert not re.search(r"weights_only.{0,20}False|can still be loaded", str(refused.value))  # would run its code


def test_inception_fid_uses_the_given_file_and_no_network(offline, monkeypatch, tmp_path):
    """A randomly initialised Inception saved to disk stands in for the real weights: the file is read, nothing is
    downloaded, and the result is a plain FID (0 for identical sets)."""
    from torch_fidelity import feature_extractor_inceptionv3 as inc

    # Build the network without its download: skip the state-dict load once, save the random weights.
    with pytest.MonkeyPatch.context() as once:
        once.setattr(inc, "load_state_dict_from_url", lambda *a, **k: None)
        once.setattr(inc.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, *a, **k: None)
        torch.manual_seed(0)
        net = inc.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    path = tmp_path / "inception.pth"
    torch.save(net.state_dict(), path)
    monkeypatch.setattr(inc, "load_state_dict_from_url", lambda *a, **k: pytest.fail("tried to download"))
    x, _ = _blobs(12, seed=8)
    assert F.inception_fid(x, x, path) == pytest.approx(0.0, abs=1e-3)


def test_importing_the_package_leaves_torch_fidelity_and_torchvision_until_a_metric_needs_them():
    """torch-fidelity imports torchvision and torch._dynamo (~1.2 s of every kernel's start): the package, the course
    and the extractor name lookup do without them; registering an extractor imports them."""
    import subprocess
    import sys

    code = ("import sys, torch; from xai_helpers import gan, cnn; from xai_helpers.course import start_assignment; "
            "print(sorted(m for m in ('torch_fidelity', 'torchvision', 'torch._dynamo') if m in sys.modules)); "
            "from xai_helpers.gan import fidelity as F; F.register_classifier_features("
            "torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)), torch.rand(4, 1, 2, 2)); "
            "print('torch_fidelity' in sys.modules, F.ClassifierFeatures.__module__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "True xai_helpers.gan.fidelity_extractor"], done.stdout


def test_a_head_of_one_linear_layer_gives_its_input_as_the_features():
    """A torchvision ResNet's head is one Linear (the logits): FID must read the pooled features that go into it,
    not 10 logits (issue 33, target 5: the user's classifier judges the GAN)."""
    import torchvision

    from xai_helpers.gan import default_hidden_layer, hidden_features
    from xai_helpers.gan.fidelity import extractor_info, register_classifier_features

    net = torchvision.models.resnet18(num_classes=4).eval()
    assert default_hidden_layer(net) == "fc:input"
    two = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 2))
    assert default_hidden_layer(two) == "1"  # a hidden layer: its pre-activation output, as for the study's CNNs
    x = torch.rand(3, 3, 32, 32)
    pooled = []
    net.avgpool.register_forward_hook(lambda m, a, out: pooled.append(out.flatten(1)))
    assert torch.allclose(hidden_features(net, x, "fc:input"), torch.cat(pooled)[:3])
    assert hidden_features(net, x, "fc").shape == (3, 4)  # a plain name still reads the output
    info = extractor_info(register_classifier_features(net, x))
    assert info["hidden_layer"] == "fc:input" and info["hidden_dim"] == 512
    with pytest.raises(ValueError, match="hidden_layer 'head:input' is not a module of ResNet"):
        hidden_features(net, x, "head:input")


# Intra-class FID (issue 36): low for each class under its own label; high when every class is drawn under another
# class's label, which the overall FID cannot see (it is the same set of images).
QUADRANTS = ["top left", "top right", "bottom left", "bottom right"]


def test_a_generator_that_draws_each_class_under_another_label_is_caught(extractor):
    extractor, _ = extractor
    real, real_labels = _blobs(400, seed=1)
    fake, fake_labels = _blobs(400, seed=2)
    right = intra_class_fid(fake, fake_labels, real, real_labels, QUADRANTS, extractor, labels="conditional GAN")
    swapped = intra_class_fid(fake, (fake_labels + 1) % 4, real, real_labels, QUADRANTS, extractor,
                              labels="conditional GAN")
    assert set(right["per_class"]) == set(QUADRANTS) and not right["left_out"]
    assert right["mean"] == pytest.approx(sum(right["per_class"].values()) / 4)
    assert swapped["mean"] > 10 * right["mean"]  # every class drawn as another one
    assert F.fid(fake, real, extractor) < right["mean"]  # the same images overall: FID cannot tell
    assert right["labels"] == "conditional GAN"


def test_classes_with_too_few_samples_are_left_out_by_name(extractor):
    extractor, _ = extractor
    real, real_labels = _blobs(80, seed=1)
    fake, fake_labels = _blobs(80, seed=2)
    fake_labels = torch.where(fake_labels == 3, 0, fake_labels)  # no sample drawn as "bottom right"
    result = intra_class_fid(fake, fake_labels, real, real_labels, QUADRANTS, extractor, labels="classifier",
                             min_samples=10)
    assert result["left_out"] == {"bottom right": "0 generated and 20 real images (fewer than 10)"}
    assert set(result["per_class"]) == set(QUADRANTS[:3])
    with pytest.raises(ValueError, match="80 generated images with 79 labels"):
        intra_class_fid(fake, fake_labels[:79], real, real_labels, QUADRANTS, extractor, labels="classifier")
