"""What a notebook's reuse key depends on, and its store: the runner's side is in test_runner.py."""
import os

import nbformat
import pytest

from xai_helpers.running import notebook_reuse as R


@pytest.fixture
def notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("about x")]
    path = tmp_path / "02_x.ipynb"
    nbformat.write(nb, path)
    return path


def _key(notebook, tmp_path, params=None, **kw):
    options = dict(cache_dir=tmp_path / "cache", threads=None, device="cpu", study_level=False,
                   run_root=tmp_path / "run", code="code-v1")
    options.update(kw)
    return R.notebook_key(notebook, params or {"seed": 0, "run_dir": "/a", "cache_dir": "/c"}, **options)


def test_the_key_ignores_where_results_go_but_not_what_they_are(notebook, tmp_path):
    base = _key(notebook, tmp_path)
    assert base.startswith("02_x-")
    assert _key(notebook, tmp_path, {"seed": 0, "run_dir": "/b", "cache_dir": "/d"}) == base
    assert _key(notebook, tmp_path, {"seed": 1, "run_dir": "/a", "cache_dir": "/c"}) != base
    assert _key(notebook, tmp_path, code="code-v2") != base
    assert _key(notebook, tmp_path, threads=1) != _key(notebook, tmp_path, threads=2)
    assert _key(notebook, tmp_path, device="cuda") != base
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="printed")]
    nbformat.write(nb, notebook)
    assert _key(notebook, tmp_path) == base, "outputs are not inputs"
    nb.cells[1].source = "about x, edited"
    nbformat.write(nb, notebook)
    assert _key(notebook, tmp_path) != base, "the markdown is part of the executed copy that is reused"


def test_the_key_follows_the_files_a_parameter_names(notebook, tmp_path):
    data = tmp_path / "data"
    (data / "cat").mkdir(parents=True)
    (data / "cat" / "a.png").write_bytes(b"1")
    params = {"seed": 0, "data_dir": str(data)}
    base = _key(notebook, tmp_path, params)
    (data / "cat" / "b.png").write_bytes(b"2")
    added = _key(notebook, tmp_path, params)
    assert added != base
    os.utime(data / "cat" / "b.png", ns=(1, 1))
    assert _key(notebook, tmp_path, params) != added, "a file rewritten in place (new mtime) counts"
    ratings = tmp_path / "human_ratings"  # 06's default: beside the cache folder
    empty = _key(notebook, tmp_path, {"seed": 0, "ratings_dir": ""})
    ratings.mkdir()
    (ratings / "ann.csv").write_text("a rating")
    assert _key(notebook, tmp_path, {"seed": 0, "ratings_dir": ""}) != empty


def test_a_model_given_as_module_factory_is_never_reused(notebook, tmp_path):
    assert _key(notebook, tmp_path, {"seed": 0, "model_file": "mypkg.models:build"}) is None
    script = tmp_path / "model.pt"
    script.write_bytes(b"torchscript")
    assert _key(notebook, tmp_path, {"seed": 0, "model_file": str(script)}) is not None


def test_a_study_level_key_follows_the_other_notebooks_metrics(notebook, tmp_path):
    run = tmp_path / "run"
    (run / "seed-0" / "metrics").mkdir(parents=True)
    (run / "metrics").mkdir()
    (run / "seed-0" / "metrics" / "01_a.json").write_text('{"acc": 0.9}')
    base = _key(notebook, tmp_path, study_level=True)
    (run / "metrics" / "02_x.json").write_text('{"its own": 1}')
    assert _key(notebook, tmp_path, study_level=True) == base, "its own metrics are an output, not an input"
    (run / "seed-0" / "metrics" / "01_a.json").write_text('{"acc": 0.8}')
    assert _key(notebook, tmp_path, study_level=True) != base


def test_store_lookup_restore_round_trip_and_a_damaged_entry_is_not_used(tmp_path):
    run = tmp_path / "run"
    (run / "metrics").mkdir(parents=True)
    (run / "status.json").write_text("{}")
    before = R.snapshot(run)
    (run / "metrics" / "02_x.json").write_text('{"a": 1}')
    (run / "status.json").write_text('{"changed": true}')
    files = R.written_since(run, before)
    assert files == ["metrics/02_x.json"], "the run's own files are never a notebook's results"
    R.store(tmp_path / "cache", "02_x-abc", run, files, {"run_id": "r1", "seconds": 3.0})
    entry = R.lookup(tmp_path / "cache", "02_x-abc")
    assert entry["run_id"] == "r1" and entry["files"] == files
    other = tmp_path / "other"
    R.restore(tmp_path / "cache", "02_x-abc", entry, other)
    assert (other / "metrics" / "02_x.json").read_text() == '{"a": 1}'
    assert R.lookup(tmp_path / "cache", "02_x-missing") is None
    (R.entry_dir(tmp_path / "cache", "02_x-abc") / "files" / "metrics" / "02_x.json").unlink()
    assert R.lookup(tmp_path / "cache", "02_x-abc") is None


def test_the_code_digest_covers_the_package_and_the_lock(tmp_path):
    (tmp_path / "xai_helpers" / "sub").mkdir(parents=True)
    (tmp_path / "requirements").mkdir()
    (tmp_path / "xai_helpers" / "sub" / "m.py").write_text("x = 1\n")
    (tmp_path / "requirements" / "lock.txt").write_text("torch==1\n")
    base = R.code_digest(tmp_path)
    (tmp_path / "xai_helpers" / "sub" / "m.py").write_text("x = 2\n")
    edited = R.code_digest(tmp_path)
    (tmp_path / "requirements" / "lock.txt").write_text("torch==2\n")
    assert len({base, edited, R.code_digest(tmp_path)}) == 3


def test_the_code_digest_ignores_docstrings_and_comments(tmp_path):
    """A docstring or comment edit reruns no notebook; the lock is hashed as text (issue 32, item 7)."""
    (tmp_path / "xai_helpers").mkdir()
    (tmp_path / "requirements").mkdir()
    module = tmp_path / "xai_helpers" / "m.py"
    module.write_text('"""Old words."""\nx = 1\n')
    (tmp_path / "requirements" / "lock.txt").write_text("torch==1\n")
    base = R.code_digest(tmp_path)
    module.write_text('"""New words."""\n# and a comment\nx = 1\n')
    assert R.code_digest(tmp_path) == base


def test_the_code_digest_covers_the_packages_data_files_and_code_that_does_not_parse(tmp_path):
    """The parameter registry's table is a TOML file: editing it must rerun notebooks. A .py that does not parse is
    hashed as it is, instead of failing the run."""
    (tmp_path / "xai_helpers").mkdir()
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "lock.txt").write_text("torch==1\n")
    table = tmp_path / "xai_helpers" / "table.toml"
    table.write_text('knob = "a"\n')
    (tmp_path / "xai_helpers" / "broken.py").write_text("def f(:\n")
    base = R.code_digest(tmp_path)
    table.write_text('knob = "b"\n')
    assert R.code_digest(tmp_path) != base
