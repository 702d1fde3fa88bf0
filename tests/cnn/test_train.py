import pytest
import torch

from xai_helpers.cnn.train import augment_batch, train_classifier
from xai_helpers.data.datasets import ImageDataset


def _tiny_dataset(n=96):
    """Two classes a CNN separates at once: a bright left half or a bright right half, with noise."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    x = torch.rand(n, 1, 8, 8, generator=g) * 0.3
    x[y == 0, :, :, :4] += 0.7
    x[y == 1, :, :, 4:] += 0.7
    return ImageDataset("tiny", x[:64], y[:64], x[64:], y[64:], ("left", "right"))


def _train(cache_dir, **kw):
    args = dict(epochs=2, batch_size=16, lr=1e-2, seed=0, device="cpu", cache_dir=str(cache_dir), progress="log",
                model_kwargs={"width": 4, "hidden": 8})
    args.update(kw)
    return train_classifier("plain", _tiny_dataset(), **args)


def test_training_is_deterministic_and_snapshots_every_epoch(tmp_path):
    a = _train(tmp_path / "a")
    b = _train(tmp_path / "b")
    assert not a.from_cache and not b.from_cache
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    assert len(a.snapshots) == 3  # initialisation + 2 epochs
    assert not torch.equal(a.snapshots[0]["features.0.weight"], a.snapshots[-1]["features.0.weight"])
    assert a.history[-1]["train_accuracy"] > 0.9  # it learns (the eval-mode BN stats need more steps)


def test_scoring_the_test_split_only_at_the_end_changes_no_weight(tmp_path):
    """``test_every_epoch=False`` (the variants and augmentation classifiers) skips scoring between epochs: the
    same weights after every epoch, the same final test accuracy, a separate cache entry (its history differs)."""
    every = _train(tmp_path, epochs=3)
    last = _train(tmp_path, epochs=3, test_every_epoch=False)
    assert last.key != every.key and not last.from_cache
    for a, b in zip(every.snapshots, last.snapshots, strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["test_accuracy"] for h in last.history[:-1]] == [None, None]
    assert last.history[-1]["test_accuracy"] == every.history[-1]["test_accuracy"] == last.meta["test_accuracy"]
    assert [h["train_loss"] for h in last.history] == [h["train_loss"] for h in every.history]


def test_second_call_loads_from_cache_without_training(tmp_path, capsys):
    first = _train(tmp_path)
    assert "[train plain] epoch" in capsys.readouterr().out
    second = _train(tmp_path)
    out = capsys.readouterr().out
    assert second.from_cache and second.key == first.key
    assert "[train" not in out and "[cache] loaded" in out
    assert second.history == first.history
    for k, v in first.model.state_dict().items():
        assert torch.equal(v, second.model.state_dict()[k])


def test_different_seed_gives_a_different_cache_entry(tmp_path):
    assert _train(tmp_path, seed=1).key != _train(tmp_path, seed=0).key


def test_cpu_thread_count_is_part_of_the_cache_key(tmp_path):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _train(tmp_path)
        torch.set_num_threads(2)
        two = _train(tmp_path)
    finally:
        torch.set_num_threads(threads)
    assert one.key != two.key and not two.from_cache  # weights depend on the thread count: never shared


@pytest.mark.parametrize("kw,match", [({"epochs": 0}, "epochs"), ({"batch_size": -1}, "batch_size"),
                                      ({"lr": 0.0}, "lr"), ({"progress": "loud"}, "progress")])
def test_bad_training_arguments_are_refused(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        _train(tmp_path, **kw)


def test_augmentation_is_seeded_and_small():
    x = torch.zeros(4, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1
    a = augment_batch(x, torch.Generator().manual_seed(0))
    b = augment_batch(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert (a.sum((1, 2, 3)) - x.sum((1, 2, 3))).abs().max() < 0.3 * 64  # scale ±10 %: area within ±21 %


def test_training_speed_of_a_trained_and_a_supplied_model():
    from types import SimpleNamespace

    from xai_helpers.cnn import training_speed

    trained = SimpleNamespace(history=[{"seconds": 2.0}, {"seconds": 4.0}], meta={"n_train": 300})
    assert training_speed(trained) == {"seconds_per_epoch": 3.0, "train_images_per_second": 100.0}
    assert training_speed(SimpleNamespace(history=[], meta={})) == {"seconds_per_epoch": None,
                                                                    "train_images_per_second": None}
