import json
import warnings

import pytest
import torch

from xai_helpers.study import cache
from xai_helpers.study.cache import CorruptCacheWarning, cache_key, cached, load_entry, save_entry


def _state():
    torch.manual_seed(0)
    return {"w": torch.randn(3, 4), "b": torch.randn(4)}


def test_key_depends_on_every_value_and_not_on_order():
    a = cache_key("classifier", {"lr": 0.1, "seed": 1})
    assert a == cache_key("classifier", {"seed": 1, "lr": 0.1})
    assert a != cache_key("classifier", {"lr": 0.1, "seed": 2})
    assert a != cache_key("gan", {"lr": 0.1, "seed": 1})
    assert a.startswith("classifier-") and len(a.split("-")[1]) == 16
    with pytest.raises(ValueError, match="alphanumeric"):
        cache_key("../x", {})


def test_round_trip_is_exact(tmp_path):
    state = _state()
    save_entry(tmp_path, "k-1", {"model": state, "snapshots": [state, state]}, {"metrics": {"acc": 0.5}})
    tensors, meta = load_entry(tmp_path, "k-1")
    assert all(torch.equal(tensors["model"][k], state[k]) for k in state)
    assert len(tensors["snapshots"]) == 2
    assert meta["metrics"] == {"acc": 0.5} and meta["key"] == "k-1"
    assert load_entry(tmp_path, "absent") is None


@pytest.mark.parametrize("damage", ["flip_byte", "truncate_meta", "delete_file"])
def test_corrupt_entry_is_reported_removed_and_rebuilt(tmp_path, damage):
    calls = []

    def build():
        calls.append(1)
        return {"model": _state()}, {"n": len(calls)}

    _, meta, key, hit = cached(tmp_path, "classifier", {"a": 1}, build)
    assert not hit and meta["n"] == 1
    entry = tmp_path / key
    if damage == "flip_byte":
        data = bytearray((entry / "model.pt").read_bytes())
        data[-20] ^= 0xFF
        (entry / "model.pt").write_bytes(bytes(data))
    elif damage == "truncate_meta":
        (entry / "meta.json").write_text((entry / "meta.json").read_text()[:10])
    else:
        (entry / "model.pt").unlink()
    with pytest.warns(CorruptCacheWarning, match=key):
        tensors, meta, key2, hit = cached(tmp_path, "classifier", {"a": 1}, build)
    assert key2 == key and not hit and meta["n"] == 2 and len(calls) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached(tmp_path, "classifier", {"a": 1}, build)[3] is True
    assert len(calls) == 2


def test_a_failed_write_leaves_no_entry_and_no_temporary_files(tmp_path, monkeypatch):
    real_save = torch.save
    written = []

    def failing_save(obj, path):
        written.append(path)
        if len(written) == 2:
            raise OSError("disk full")
        real_save(obj, path)

    monkeypatch.setattr(cache.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_entry(tmp_path, "k-2", {"model": _state(), "snapshots": [_state()]}, {})
    assert list(tmp_path.iterdir()) == []


def test_meta_records_checksums_and_config(tmp_path):
    _, meta, key, _ = cached(tmp_path, "classifier", {"lr": 1}, lambda: ({"model": _state()}, {"acc": 1.0}))
    on_disk = json.loads((tmp_path / key / "meta.json").read_text())
    assert on_disk["config"] == {"lr": 1} and on_disk["kind"] == "classifier"
    assert set(on_disk["files"]) == {"model.pt"} and len(on_disk["files"]["model.pt"]) == 64


def test_objects_that_would_not_load_are_refused_before_publishing(tmp_path):
    import numpy as np

    from xai_helpers.study.cache import CacheError

    with pytest.raises(CacheError, match="weights_only"):
        save_entry(tmp_path, "k-3", {"model": {"x": np.arange(3)}}, {})
    assert list(tmp_path.iterdir()) == []


def test_symlinked_or_dangling_entries_are_replaced(tmp_path):
    (tmp_path / "k-4").symlink_to(tmp_path / "nowhere")
    with pytest.warns(CorruptCacheWarning):
        assert load_entry(tmp_path, "k-4") is None
    assert not (tmp_path / "k-4").is_symlink()
    save_entry(tmp_path, "k-4", {"model": _state()}, {})
    assert load_entry(tmp_path, "k-4") is not None


def test_a_sound_entry_written_concurrently_is_kept(tmp_path):
    save_entry(tmp_path, "k-5", {"model": _state()}, {"writer": "first"})
    save_entry(tmp_path, "k-5", {"model": _state()}, {"writer": "second"})
    assert load_entry(tmp_path, "k-5")[1]["writer"] == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["k-5"]


def test_stale_temporaries_of_dead_writers_are_swept(tmp_path):
    stale = tmp_path / ".k-6.tmp-999999999-abcd1234"
    stale.mkdir()
    save_entry(tmp_path, "k-6", {"model": _state()}, {})
    assert not stale.exists()


_BUILDER = """
import json, sys, time
from pathlib import Path
from xai_helpers.study.cache import cached

cache_dir, start, builds = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
while time.time() < start:  # both processes ask for the entry at the same moment
    time.sleep(0.005)

def build():
    with open(builds, "a") as fh:
        fh.write("built\\n")
    time.sleep(1.0)  # long enough for the other process to arrive while this one builds
    return {"model": {"w": [1.0, 2.0]}}, {"note": "slow build"}

tensors, meta, key, hit = cached(cache_dir, "k", {"a": 1}, build)
print(json.dumps({"hit": hit, "key": key, "w": tensors["model"]["w"]}))
"""


def test_two_processes_needing_the_same_missing_entry_build_it_once(tmp_path):
    import subprocess
    import sys
    import time

    builds = tmp_path / "builds.txt"
    start = time.time() + 2.0  # after both interpreters have started
    procs = [subprocess.Popen([sys.executable, "-c", _BUILDER, str(tmp_path / "cache"), str(start), str(builds)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert builds.read_text() == "built\n"  # one build (without the lock: two)
    assert sorted(r["hit"] for r in results) == [False, True]  # the second loaded the first one's entry
    assert results[0]["key"] == results[1]["key"] and results[0]["w"] == results[1]["w"] == [1.0, 2.0]
    waiting = [out for out, _ in outs if "[cache] waiting for" in out]
    assert len(waiting) == 1 and results[0]["key"] in waiting[0]


def test_a_build_lock_held_by_a_killed_process_does_not_block_the_next_build(tmp_path):
    import signal
    import subprocess
    import sys

    from filelock import FileLock, Timeout

    key = cache_key("k", {"x": 1})
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom xai_helpers.study.cache import build_lock\n"
        f"with build_lock({str(tmp_path)!r}, {key!r}):\n    print('held', flush=True)\n    time.sleep(600)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Timeout):  # held: nobody else can take it
            FileLock(tmp_path / f".{key}.lock").acquire(timeout=0.2)
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding it: the kernel releases the lock
        holder.wait(timeout=30)
    tensors, _, _, hit = cached(tmp_path, "k", {"x": 1}, lambda: ({"model": _state()}, {}))
    assert not hit and torch.equal(tensors["model"]["w"], _state()["w"])
