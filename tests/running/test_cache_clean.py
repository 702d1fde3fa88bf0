"""``./run_all.sh --clean-cache``: entries that this checkout can never look up again are listed, and removed only on
request; entries it can still produce are kept (issue 32, item 7)."""
import json

import pytest
import torch

from xai_helpers.cnn import train as T
from xai_helpers.data.datasets import ImageDataset
from xai_helpers.running import cache_clean, notebook_reuse
from xai_helpers.study import cache


@pytest.fixture(scope="module")
def current_config():
    data = ImageDataset("tiny", torch.zeros(4, 1, 8, 8), torch.arange(4) % 2, torch.zeros(2, 1, 8, 8),
                        torch.arange(2), ("a", "b"))
    return T.classifier_config("plain", data, epochs=1, batch_size=2, lr=0.1, weight_decay=0.0, augment=False,
                               seed=0, device=torch.device("cpu"))


def _model_entry(cache_dir, config, kind=T.CACHE_KIND):
    key = cache.cache_key(kind, config)
    cache.save_entry(cache_dir, key, {"model": {"w": torch.zeros(3)}}, {"config": config, "kind": kind})
    (cache_dir / f".{key}.lock").touch()  # what a build leaves beside its entry
    return key


def _notebook_entry(cache_dir, name, code):
    folder = notebook_reuse.entry_dir(cache_dir, name)
    (folder / "files").mkdir(parents=True)
    (folder / "entry.json").write_text(json.dumps({"files": [], **({"code": code} if code else {})}))
    return f"notebooks/{name}"


@pytest.fixture(scope="module")
def filled(tmp_path_factory, current_config):
    """A cache with entries this checkout produces and entries it cannot, each for another reason."""
    cache_dir = tmp_path_factory.mktemp("cache")
    code = notebook_reuse.code_digest()
    kept = {_model_entry(cache_dir, current_config), _notebook_entry(cache_dir, "01_x-current", code)}
    stale = {
        _model_entry(cache_dir, dict(current_config, code="0123456789ab")): "trained by other code",
        _model_entry(cache_dir, dict(current_config, torch="1.13.0")): "trained with torch 1.13.0",
        _model_entry(cache_dir, current_config, kind="vae"): "kind 'vae' is no longer trained",
        _notebook_entry(cache_dir, "01_x-old", "f" * 64): "computed by other code",
        _notebook_entry(cache_dir, "02_y-older", None): "stored before entries recorded their code version",
    }
    (cache_dir / "classifier-damaged").mkdir()
    stale["classifier-damaged"] = "no readable meta.json"
    return cache_dir, kept, stale


def test_entries_no_configuration_produces_are_listed_with_why_and_nothing_is_removed(filled, capsys):
    cache_dir, kept, stale = filled
    assert cache_clean.main(["--cache-dir", str(cache_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line for line in lines if line.startswith("  ")}
    assert set(listed) == set(stale)
    for name, reason in stale.items():
        assert reason in listed[name] and " MB " in listed[name]
    assert f"{len(stale)} entries" in lines[-1] and "--clean-cache --remove" in lines[-1]
    assert all((cache_dir / name).exists() for name in stale)


def test_remove_deletes_exactly_the_stale_entries_and_their_locks(filled, tmp_path, capsys):
    cache_dir, kept, stale = filled
    assert cache_clean.main(["--cache-dir", str(cache_dir), "--remove"]) == 0
    assert f"removed {len(stale)} entries" in capsys.readouterr().out
    assert not any((cache_dir / name).exists() for name in stale)
    assert not any((cache_dir / f".{name}.lock").exists() for name in stale)
    assert all((cache_dir / name).exists() for name in kept)
    assert cache.load_entry(cache_dir, next(k for k in kept if k.startswith("classifier"))) is not None
    assert cache_clean.main(["--cache-dir", str(cache_dir)]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_a_cache_dir_that_is_not_a_folder_is_refused_and_not_created(tmp_path, capsys):
    assert cache_clean.main(["--cache-dir", str(tmp_path / "typo")]) == 2
    assert "'" + str(tmp_path / "typo") + "' is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


def test_an_entry_whose_lock_is_held_is_left_in_place(tmp_path, current_config, capsys):
    """Another process building (or reading) an entry holds its lock: --remove leaves it alone."""
    from filelock import FileLock

    key = _model_entry(tmp_path, dict(current_config, code="0123456789ab"))
    with FileLock(tmp_path / f".{key}.lock"):
        assert cache_clean.main(["--cache-dir", str(tmp_path), "--remove"]) == 0
    out = capsys.readouterr().out
    assert "another process holds its lock" in out and "removed 0 entries" in out and (tmp_path / key).exists()
