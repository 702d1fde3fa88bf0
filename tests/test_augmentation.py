"""Synthetic augmentation: training sets built right, test split untouched, labels from the right source."""
import pytest
import torch

from xai_helpers import augmentation as A
from xai_helpers.data import ImageDataset
from xai_helpers.gan_models import DCGANGenerator


def _data(n=200, classes=4):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 28, 28, generator=gen)
    y = torch.arange(n) % classes
    return ImageDataset("tiny", x, y, x[:40].clone(), y[:40].clone(), tuple(str(i) for i in range(classes)))


def test_sets_of_a_regime_share_the_real_test_split_and_hold_what_they_say():
    data = _data()
    sx, sy = torch.rand(30, 1, 28, 28), torch.arange(30) % 4
    sets = A.augmentation_sets(data, sx, sy, 0.1)
    assert set(sets) == set(A.TRAINING_SETS)
    assert len(sets["real"].train_x) == 20 and torch.bincount(sets["real"].train_y).tolist() == [5, 5, 5, 5]
    assert len(sets["real + synthetic"].train_x) == 50 and torch.equal(sets["real + synthetic"].train_x[20:], sx)
    assert torch.equal(sets["synthetic only"].train_y, sy)
    for ds in sets.values():
        assert ds.test_x is data.test_x and ds.test_y is data.test_y
    assert A.augmentation_sets(data, sx, sy, 1.0)["real"] is data  # all real data: notebook 01's classifier
    # different training sets are different cache entries
    assert len({ds.fingerprint for ds in sets.values()}) == 3
    with pytest.raises(ValueError, match="fraction"):
        A.augmentation_sets(data, sx, sy, 0)
    with pytest.raises(ValueError, match="labels must be in"):
        A.augmentation_sets(data, sx, sy + 4, 0.5)
    with pytest.raises(ValueError, match="do not match"):
        A.augmentation_sets(data, torch.rand(30, 1, 32, 32), sy, 0.5)


def test_labels_come_from_the_conditional_gan_or_from_the_classifier():
    torch.manual_seed(0)
    cond = DCGANGenerator(8, 1, 28, 4, num_classes=4).eval()
    x, y, source = A.synthetic_samples(cond, 12, seed=0)
    assert source == "conditional GAN" and torch.bincount(y).tolist() == [3, 3, 3, 3]
    plain = DCGANGenerator(8, 1, 28, 4).eval()
    with pytest.raises(ValueError, match="labeler"):
        A.synthetic_samples(plain, 12, seed=0)
    always_two = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 4))
    with torch.no_grad():
        always_two[1].weight.zero_()
        always_two[1].bias.copy_(torch.tensor([0.0, 0.0, 1.0, 0.0]))
    x, y, source = A.synthetic_samples(plain, 12, seed=0, labeler=always_two)
    assert source == "classifier" and y.tolist() == [2] * 12 and x.shape == (12, 1, 28, 28)


def test_study_scores_every_regime_on_the_real_test_split(tmp_path):
    data = _data()
    sx, sy = data.train_x[:60].clone(), data.train_y[:60].clone()  # "synthetic" = real copies: must help, not hurt
    table = A.augmentation_study(data, sx, sy, "copies", fractions=(0.2, 1.0), epochs=1, batch_size=32, lr=1e-3,
                                 device="cpu", cache_dir=str(tmp_path), progress="none")
    assert len(table) == 6 and set(table["training_set"]) == set(A.TRAINING_SETS)
    assert table["test_accuracy"].between(0, 1).all()
    only = table[table["training_set"] == "synthetic only"]
    assert only["checkpoint"].nunique() == 1  # trained once, reported in both regimes
    assert table.loc[table["training_set"] == "real", "n_train"].tolist() == [40, 200]
