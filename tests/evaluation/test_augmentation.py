"""Synthetic augmentation: training sets built right, test split untouched, labels from the right source."""
import pytest
import torch

from xai_helpers.cnn.train import accuracy, train_classifier
from xai_helpers.data.datasets import ImageDataset
from xai_helpers.evaluation import augmentation as A
from xai_helpers.gan.models import DCGANGenerator
from xai_helpers.gan.train import generate


def _data(n=200, classes=4):
    """Random images; the test split is 40 images of its own (not training images), so that scoring on the
    wrong split shows."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n + 40, 1, 28, 28, generator=gen)
    y = torch.arange(n + 40) % classes
    return ImageDataset("tiny", x[:n], y[:n], x[n:], y[n:], tuple(str(i) for i in range(classes)))


def _rows_of(images, pool):
    """Index in ``pool`` of each image (all images are distinct random tensors); -1 where there is none."""
    same = (images.flatten(1)[:, None] == pool.flatten(1)[None]).all(2)
    return torch.where(same.any(1), same.float().argmax(1), torch.full((len(images),), -1))


def test_sets_of_a_regime_share_the_real_test_split_and_hold_what_they_say():
    data = _data()
    sx, sy = torch.rand(30, 1, 28, 28), torch.arange(30) % 4
    regime = A.regime_data(data, 0.1)
    sets = A.augmentation_sets(regime, sx, sy)
    assert tuple(sets) == A.DATA_SETS
    real, both, synthetic = sets["real"], sets["real + synthetic"], sets["synthetic only"]
    # real: a stratified 10 % of the real training pairs, each image with its own label
    assert real is regime and len(real.train_x) == 20 and torch.bincount(real.train_y).tolist() == [5, 5, 5, 5]
    rows = _rows_of(real.train_x, data.train_x)
    assert (rows >= 0).all() and len(set(rows.tolist())) == 20 and torch.equal(real.train_y, data.train_y[rows])
    # real + synthetic: exactly those real pairs followed by the synthetic pairs
    assert torch.equal(both.train_x, torch.cat([real.train_x, sx])) and torch.equal(both.train_y,
                                                                                   torch.cat([real.train_y, sy]))
    # synthetic only: the synthetic pairs and nothing real
    assert torch.equal(synthetic.train_x, sx) and torch.equal(synthetic.train_y, sy)
    for ds in sets.values():
        assert ds.test_x is data.test_x and ds.test_y is data.test_y
    assert A.regime_data(data, 1.0) is data  # all real data: notebook 01's classifier and 04's GAN
    # different training sets are different cache entries, also across regimes
    full = A.augmentation_sets(data, sx, sy)
    assert len({ds.fingerprint for ds in [*sets.values(), *full.values()]}) == 6
    with pytest.raises(ValueError, match="fraction"):
        A.regime_data(data, 0)
    with pytest.raises(ValueError, match="labels must be in"):
        A.augmentation_sets(regime, sx, sy + 4)
    with pytest.raises(ValueError, match="do not match"):
        A.augmentation_sets(regime, torch.rand(30, 1, 32, 32), sy)


def test_the_low_data_regime_is_drawn_from_the_run_seed():
    """Issue 29, item 4: the 10 % subset was the same for every seed, so intervals over seeds left out which
    images were kept. Now each seed keeps its own stratified subset, and one seed always the same."""
    data = _data()
    draws = [_rows_of(A.regime_data(data, 0.1, seed).train_x, data.train_x) for seed in (0, 1, 0)]
    assert torch.equal(draws[0], draws[2]) and not torch.equal(draws[0], draws[1])
    assert torch.bincount(A.regime_data(data, 0.1, 1).train_y).tolist() == [5, 5, 5, 5]  # still stratified


def test_labels_come_from_the_conditional_gan_or_from_the_classifier():
    torch.manual_seed(0)
    cond = DCGANGenerator(8, 1, 28, 4, num_classes=4).eval()
    x, y, source = A.synthetic_samples(cond, 12, seed=0)
    assert source == "conditional GAN" and torch.bincount(y).tolist() == [3, 3, 3, 3]
    # The labels are the ones the generator drew each image for: the same latents and labels give the same
    # images, other labels other images.
    assert torch.equal(generate(cond, 12, 0, labels=y)[0], x)
    assert not torch.allclose(generate(cond, 12, 0, labels=(y + 1) % 4)[0], x)
    plain = DCGANGenerator(8, 1, 28, 4).eval()
    with pytest.raises(ValueError, match="labeler"):
        A.synthetic_samples(plain, 12, seed=0)
    always_two = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 4))
    with torch.no_grad():
        always_two[1].weight.zero_()
        always_two[1].bias.copy_(torch.tensor([0.0, 0.0, 1.0, 0.0]))
    x, y, source = A.synthetic_samples(plain, 12, seed=0, labeler=always_two)
    assert source == "classifier" and y.tolist() == [2] * 12 and x.shape == (12, 1, 28, 28)
    # A labeler that looks at the image: each label is its prediction for that image.
    brightness = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 2))
    with torch.no_grad():
        brightness[1].weight.copy_(torch.stack([torch.ones(784), -torch.ones(784)]) / 784)
        brightness[1].bias.copy_(torch.tensor([-1.0, 1.0]) * x.mean().item())
    x, y, source = A.synthetic_samples(plain, 12, seed=0, labeler=brightness)
    assert source == "classifier" and torch.equal(y, brightness(x).argmax(1)) and 0 < y.sum() < 12


def test_study_scores_every_regime_on_the_real_test_split_with_samples_of_that_regime_only(tmp_path, monkeypatch):
    """Issue 14: in the 10 % regime the GAN and its labeller had seen 100 % of the real training images. Now the
    regime's own real images are all that ``synthesize`` gets, and each regime has its own samples."""
    data = _data()
    scored, seen = [], []

    def spy(model, x, y, **kw):  # every accuracy of the study, with the split it was computed on
        value = accuracy(model, x, y, **kw)
        scored.append((x, y, value))
        return value

    def synthesize(regime):  # stands in for "train a GAN and a labeller on regime, sample from it"
        seen.append(regime)
        gen = torch.Generator().manual_seed(len(regime.train_x))
        return torch.rand(60, 1, 28, 28, generator=gen), torch.arange(60) % 4, "given", f"gan-{len(regime.train_x)}"

    monkeypatch.setattr(A, "accuracy", spy)
    table = A.augmentation_study(data, synthesize, fractions=(0.2, 1.0), epochs=1, batch_size=32, lr=1e-3,
                                 device="cpu", cache_dir=str(tmp_path), progress="none")
    # synthesize saw the regime's real training images and nothing else
    assert [len(r.train_x) for r in seen] == [40, 200] and seen[1] is data
    rows = _rows_of(seen[0].train_x, data.train_x)
    assert (rows >= 0).all() and torch.equal(seen[0].train_y, data.train_y[rows])
    assert len(table) == 8 and set(table["training_set"]) == set(A.TRAINING_SETS)
    assert table.groupby("real_fraction")["training_set"].apply(set).tolist() == [set(A.TRAINING_SETS)] * 2
    # Each of the 8 classifiers was scored on the real test split, and that is the table.
    assert len(scored) == 8 and all(x is data.test_x and y is data.test_y for x, y, _ in scored)
    assert sorted(table["test_accuracy"]) == sorted(v for *_, v in scored)
    only = table[table["training_set"] == "synthetic only"]
    assert only["checkpoint"].nunique() == 2  # each regime's own samples: two different GAN-only classifiers
    assert table.groupby("real_fraction")["gan_checkpoint"].first().tolist() == ["gan-40", "gan-200"]
    assert table.loc[table["training_set"] == "real", "n_train"].tolist() == [40, 200]
    assert table.loc[table["training_set"] == "real + synthetic", "n_train"].tolist() == [100, 260]
    assert table["n_real"].tolist() == [40] * 4 + [200] * 4
    assert table.set_index(["real_fraction", "training_set"])["n_synthetic"].xs(0.2).to_dict() == {
        "real": 0, "real + synthetic": 60, "synthetic only": 60, A.STEP_MATCHED: 0}
    # Issue 29, item 4: the step-matched row trains the regime's real images for as many steps as real + synthetic
    # (batch 32: 40 real images take 2 steps an epoch, 100 real + synthetic 4, so 2 epochs; at 100 %: 7 and 9 steps)
    steps = table.set_index(["real_fraction", "training_set"])["steps"]
    assert steps[(0.2, "real")] == 2 and steps[(0.2, "real + synthetic")] == steps[(0.2, A.STEP_MATCHED)] == 4
    assert steps[(1.0, "real")] == 7 and steps[(1.0, "real + synthetic")] == 9 and steps[(1.0, A.STEP_MATCHED)] == 7
    matched = table[table["training_set"] == A.STEP_MATCHED]
    assert matched["n_train"].tolist() == [40, 200] and matched["epochs"].tolist() == [2, 1]
    gain = table.set_index(["real_fraction", "training_set"])
    assert gain.loc[(0.2, "real + synthetic"), "gain_over_step_matched"] == pytest.approx(
        gain.loc[(0.2, "real + synthetic"), "test_accuracy"] - gain.loc[(0.2, A.STEP_MATCHED), "test_accuracy"])
    assert (matched["gain_over_step_matched"] == 0).all()
    assert matched["p_mcnemar_vs_step_matched"].isna().all()
    # Issue 36: the GAN-only row's accuracy is the Classification Accuracy Score, named with its label source
    cas = A.classification_accuracy_score(table)
    assert cas["per_regime"] == {"0.2": only["test_accuracy"].iloc[0], "1": only["test_accuracy"].iloc[1]}
    assert cas["labels"] == "given"
    with pytest.raises(ValueError, match="no 'synthetic only' rows"):
        A.classification_accuracy_score(matched)
    assert table["p_mcnemar_vs_step_matched"].dropna().between(0, 1).all() and table["p_mcnemar_vs_step_matched"].notna().sum() == 6
    assert (table["label_source"] == "given").all()


def test_mcnemar_is_the_exact_binomial_test_of_the_images_only_one_classifier_gets_right():
    """Issue 29 (low): two classifiers scored on the same images were compared by whether their intervals overlap.
    1 image only A gets right, 9 only B: p = 2 · (C(10,0) + C(10,1)) / 2¹⁰ = 22 / 1024."""
    a = torch.tensor([True] * 50 + [True] + [False] * 9)
    b = torch.tensor([True] * 50 + [False] + [True] * 9)
    assert A.mcnemar_p(a, b) == pytest.approx(22 / 1024)
    assert A.mcnemar_p(a, a) == 1.0
    with pytest.raises(ValueError, match="same images"):
        A.mcnemar_p(a, b[:5])


def test_a_regime_smaller_than_one_gan_minibatch_is_refused_before_training():
    """A small folder's 10 % share (here 20 of 200 images) cannot feed a GAN minibatch of 32; train_gan would only
    say so deep inside the study, without naming the parameter to change."""
    data = _data()
    with pytest.raises(ValueError, match=r"low_data_fraction 0.1 leaves 20 of the 200 real training images, fewer "
                                         r"than one GAN minibatch \(gan_batch_size 32\): raise low_data_fraction to "
                                         r"at least 0.16 or lower gan_batch_size"):
        A.check_regimes(data, (0.1, 1.0), 32)
    A.check_regimes(data, (0.16, 1.0), 32)  # 32 images: one minibatch


@pytest.mark.parametrize("conditional", [False, True])
def test_the_regime_synthesizer_trains_its_gan_and_labeller_on_the_regime_alone(tmp_path, conditional):
    """06's synthesize: the regime's GAN is the one ``train_gan`` makes of the regime's real images (the same cache
    entry), an unconditional one is labelled by a classifier, a conditional one by its own balanced labels."""
    from xai_helpers.gan.train import train_gan

    regime = A.regime_data(_data(), 0.5)
    gan_args = dict(iterations=4, batch_size=16, z_dim=8, width=4, log_every=2, snapshot_every=2, seed=0,
                    device="cpu", progress="none", conditional=conditional, cache_dir=str(tmp_path))
    classifier_args = dict(epochs=1, batch_size=32, lr=1e-3, seed=0, device="cpu", cache_dir=str(tmp_path),
                           progress="none")
    images, labels, source, gan_key = A.regime_synthesizer(gan_args, classifier_args, 12, seed=3)(regime)
    assert gan_key == train_gan(regime, **gan_args).key
    assert images.shape == (12, 1, 28, 28) and len(labels) == 12
    expected = A.synthetic_samples(train_gan(regime, **gan_args).generator, 12, 3 + 7,
                                   None if conditional else train_classifier("plain", regime, test_every_epoch=False,
                                                                            **classifier_args).model)
    assert source == expected[2] == ("conditional GAN" if conditional else "classifier")
    assert torch.equal(images, expected[0]) and torch.equal(labels, expected[1])
