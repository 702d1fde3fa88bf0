"""The runner on tiny notebooks written by the tests: validation, failures, interruption, the run folder."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

import nbformat
import pytest

from image_files import image_folder
from xai_helpers.running import notebook_parameters as NP
from xai_helpers.running import runner


def _notebook(path, params_src, *cells):
    nb = nbformat.v4.new_notebook()
    first = nbformat.v4.new_code_cell(params_src)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


PARAMS = '''seed: int = 0  # seed
run_dir: str = ""  # run folder
profile: str = "default"  # profile
width: int = 3  # a knob'''

WRITE_METRICS = '''import json, pathlib
pathlib.Path(run_dir, "metrics", "00_ok.json").write_text(json.dumps({"width": width, "seed": seed, "profile": profile}))
print("[progress] wrote metrics")'''


@pytest.fixture
def nbdir(tmp_path):
    d = tmp_path / "notebooks"
    d.mkdir()
    _notebook(d / "00_ok.ipynb", PARAMS, WRITE_METRICS)
    return d


def _run(nbdir, tmp_path, *args):
    lines = []
    rc = runner.main(["--notebooks-dir", str(nbdir), "--out", str(tmp_path / "out"),
                      "--cache-dir", str(tmp_path / "cache"), "--profile", "smoke", *args], log=lines.append)
    return rc, "\n".join(lines)


def test_a_successful_run_writes_the_run_folder_and_moves_latest(nbdir, tmp_path):
    rc, out = _run(nbdir, tmp_path, "-p", "width", "7", "--seed", "4")
    assert rc == 0, out
    run = (tmp_path / "out" / "latest").resolve()
    assert run.parent == tmp_path / "out" / "runs" and run.name.endswith("-smoke")
    for sub in ("executed/00_ok.ipynb", "html/00_ok.html", "logs/00_ok.log", "environment.json", "summary.md"):
        assert (run / sub).exists(), sub
    assert json.loads((run / "metrics" / "00_ok.json").read_text()) == {"width": 7, "seed": 4, "profile": "smoke"}
    assert not (run / "INCOMPLETE").exists()
    env = json.loads((run / "environment.json").read_text())
    assert env["seeds"] == [4] and env["state"] == "complete" and env["end_utc"]
    assert "00_ok" in out and "ok" in out and "[progress] wrote metrics" in out
    assert "| 00_ok | 4 | ok |" in (run / "summary.md").read_text()


def test_native_windows_is_refused_before_anything_runs(nbdir, tmp_path, capsys, monkeypatch):
    """The runner needs POSIX process groups, signals and symlinks: on native Windows it says to use WSL 2 and writes
    nothing, instead of failing half-way through a run."""
    monkeypatch.setattr(runner.sys, "platform", "win32")
    rc = runner.main(["--notebooks-dir", str(nbdir), "--out", str(tmp_path / "out")])
    assert rc == 2 and "native Windows is not supported: run the study in WSL 2" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_unknown_parameter_is_refused_with_close_matches_before_anything_runs(nbdir, tmp_path, capsys):
    rc, _ = _run(nbdir, tmp_path, "-p", "widht", "7")
    err = capsys.readouterr().err
    assert rc == 2 and "'widht'" in err and "did you mean width" in err
    assert not (tmp_path / "out").exists(), "nothing may be written for a refused run"


def test_parameter_of_the_wrong_type_is_refused(nbdir, tmp_path, capsys):
    rc, _ = _run(nbdir, tmp_path, "-p", "width", "wide")
    assert rc == 2 and "declares width as int" in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["-p", "width", "-5"], "width = -5 is not allowed: expected an integer ≥ 1"),
    (["-p", "low_data_fraction", "1.5"], "low_data_fraction = 1.5 is not allowed: expected a number in (0, 1]"),
    (["-p", "patch_size", "40"], "patch_size = 40 is not allowed: the images are 28×28 pixels"),
])
def test_values_out_of_range_are_refused_before_anything_runs(nbdir, tmp_path, capsys, monkeypatch, args, message):
    """Issue 14: ``-p n_explain -5`` used to run for minutes. The range comes from xai_helpers.study.parameters."""
    from xai_helpers.study import parameters

    monkeypatch.setitem(parameters.ALLOWED, "width", parameters.COUNT)
    _notebook(nbdir / "01_more.ipynb", PARAMS + '\ndataset: str = "mnist5k"  # data\nimage_size: int = 32  # side'
              '\nlow_data_fraction: float = 0.1  # share\npatch_size: int = 4  # pixels', WRITE_METRICS)
    rc, _ = _run(nbdir, tmp_path, *args)
    assert rc == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing may be written for a refused run"


def test_an_imagefolder_without_its_images_is_refused_before_anything_runs(nbdir, tmp_path, capsys):
    """Issue 29 (low): ``--dataset imagefolder`` without ``--data-dir`` (so data/, which holds no class folders)
    started a kernel and failed in 01's data cell."""
    _notebook(nbdir / "01_data.ipynb", PARAMS + '\ndataset: str = "mnist5k"  # data\ndata_dir: str = ""  # folder',
              WRITE_METRICS)
    rc, _ = _run(nbdir, tmp_path, "--dataset", "imagefolder")
    assert rc == 2 and "holds 0 class folder(s) with images" in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing may be written for a refused run"
    image_folder(tmp_path / "images")
    rc, out = _run(nbdir, tmp_path, "--dataset", "imagefolder", "--data-dir", str(tmp_path / "images"))
    assert rc == 0, out


@pytest.mark.parametrize("damage, problem", [
    (lambda root: shutil.rmtree(root / "b"), r"holds 1 class folder\(s\) with images \(a\)"),  # one class
    (lambda root: [p.unlink() for p in root.rglob("*.png")], r"holds 0 class folder\(s\) with images"),  # empty
    (lambda root: (root / "b" / "2.png").unlink(), r"class folder\(s\) with fewer than 3 images: b \(2\)"),
    (lambda root: ((root / "a" / "3.png").write_bytes(b""), (root / "b" / "3.jpg").write_text("not an image")),
     r"2 file\(s\) cannot be read as images: a/3\.png \(UnidentifiedImageError: .*; b/3\.jpg \("),
])
def test_an_imagefolder_that_cannot_make_a_data_set_is_refused_before_any_kernel(nbdir, tmp_path, capsys, damage,
                                                                                  problem):
    """Issue 35: a one-class folder ran to accuracy 1.0; an empty folder or a corrupt image was found only after a
    kernel started, and one bad file stopped the data set. Refused before anything runs, every bad file named."""
    _notebook(nbdir / "01_data.ipynb", PARAMS + '\ndataset: str = "mnist5k"  # data\ndata_dir: str = ""  # folder',
              WRITE_METRICS)
    damage(image_folder(tmp_path / "images"))
    rc, _ = _run(nbdir, tmp_path, "--dataset", "imagefolder", "--data-dir", str(tmp_path / "images"))
    assert rc == 2 and re.search(problem, capsys.readouterr().err)
    assert not (tmp_path / "out").exists(), "nothing may be written for a refused run"


def test_an_imagefolder_too_large_for_memory_is_refused_before_anything_runs(nbdir, tmp_path, capsys, monkeypatch):
    """Issue 33: every image is decoded into memory at image_size; a folder that cannot fit ended in a killed kernel."""
    from xai_helpers.data import catalogue

    _notebook(nbdir / "01_data.ipynb", PARAMS + '\ndataset: str = "mnist5k"  # data\ndata_dir: str = ""  # folder'
              '\nimage_size: int = 32  # side\nchannels: int = 3  # channels', WRITE_METRICS)
    image_folder(tmp_path / "images")
    monkeypatch.setattr(catalogue, "available_memory", lambda: 100_000)  # bytes: 6 images of 224 px need 3.6 MB
    rc, _ = _run(nbdir, tmp_path, "--dataset", "imagefolder", "--data-dir", str(tmp_path / "images"),
                 "-p", "image_size", "224")
    assert rc == 2 and "6 images at 224 px with 3 channel(s) take about" in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing may be written for a refused run"


def test_a_test_folder_is_checked_before_anything_runs_and_only_for_an_imagefolder(nbdir, tmp_path, capsys):
    _notebook(nbdir / "01_data.ipynb", PARAMS + '\ndataset: str = "mnist5k"  # data\ndata_dir: str = ""  # folder'
              '\ntest_dir: str = ""  # test folder', WRITE_METRICS)
    for folder in ("images", "held_out"):  # one image per class is enough when the test images are apart
        image_folder(tmp_path / folder, per_class=1)
    rc, _ = _run(nbdir, tmp_path, "--test-dir", str(tmp_path / "held_out"))
    assert rc == 2 and "test_dir is for dataset imagefolder; mnist5k has its own test split" in capsys.readouterr().err
    rc, _ = _run(nbdir, tmp_path, "--dataset", "imagefolder", "--data-dir", str(tmp_path / "images"),
                 "--test-dir", str(tmp_path / "missing"))
    assert rc == 2 and "missing does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing may be written for a refused run"
    rc, out = _run(nbdir, tmp_path, "--dataset", "imagefolder", "--data-dir", str(tmp_path / "images"),
                   "--test-dir", str(tmp_path / "held_out"))
    assert rc == 0, out


def test_relative_paths_are_taken_from_where_the_user_started(nbdir, tmp_path, monkeypatch):
    """Issue 33: run_all.sh changes to the repository, so `--out results -p concepts_dir my_concepts` typed in a
    project folder pointed into the repository. Now both are taken from the folder the user started in."""
    _notebook(nbdir / "01_paths.ipynb", PARAMS + '\nconcepts_dir: str = ""  # folder',
              'import json, pathlib\npathlib.Path(run_dir, "metrics", "01_paths.json").write_text('
              'json.dumps({"concepts_dir": concepts_dir}))')
    project = tmp_path / "project"
    (project / "my_concepts").mkdir(parents=True)
    monkeypatch.setenv("XAI_INVOKED_FROM", str(project))
    rc = runner.main(["--notebooks-dir", str(nbdir), "--out", "rel_out", "--cache-dir", str(tmp_path / "cache"),
                      "--profile", "smoke", "--only", "01_paths", "-p", "concepts_dir", "my_concepts"], log=print)
    assert rc == 0
    metrics = json.loads((project / "rel_out" / "latest" / "metrics" / "01_paths.json").read_text())
    assert metrics == {"concepts_dir": str(project / "my_concepts")}


MODEL_PARAMS = """
model_source: str = "study"  # source
model_name: str = ""  # name
model_weights: str = ""  # weights
model_file: str = ""  # file"""


def test_a_supplied_model_is_checked_before_anything_runs_and_refused_where_a_notebook_cannot_explain_it(
        nbdir, tmp_path, capsys):
    _notebook(nbdir / "01_model.ipynb", PARAMS + MODEL_PARAMS + '\nepochs: "Optional[int]" = None  # epochs',
              WRITE_METRICS)
    rc, _ = _run(nbdir, tmp_path, "--only", "01", "-p", "model_source", "torchvision", "-p", "model_name", "resnet81")
    assert rc == 2 and "model_name = 'resnet81' is no torchvision classifier; did you mean resnet18" \
        in capsys.readouterr().err
    rc, _ = _run(nbdir, tmp_path, "--only", "01", "-p", "model_source", "file", "-p", "model_file", "gone.pt")
    assert rc == 2 and "gone.pt': no such file" in capsys.readouterr().err  # absolute: from where the user is
    # A TorchScript model takes no hooks: refused before any kernel starts for a notebook that reads layers.
    (tmp_path / "scripted.pt").write_bytes(b"")
    _notebook(nbdir / "07_explorer.ipynb", PARAMS + MODEL_PARAMS, WRITE_METRICS)
    rc, _ = _run(nbdir, tmp_path, "--only", "07", "-p", "model_source", "file", "-p", "model_file",
                 str(tmp_path / "scripted.pt"))
    assert rc == 2 and "07_explorer: it reads a layer's activations, and the TorchScript model" in \
        capsys.readouterr().err
    (nbdir / "07_explorer.ipynb").unlink()
    # A notebook that uses the classifier (declares its settings) but cannot take a supplied model: refused, since -p
    # would not reach it and it would explain the study's CNN while 01 reports the user's model.
    _notebook(nbdir / "02_old.ipynb", PARAMS + '\nepochs: "Optional[int]" = None  # epochs', WRITE_METRICS)
    rc, _ = _run(nbdir, tmp_path, "--only", "01", "02", "-p", "model_source", "torchvision", "-p", "model_name",
                 "resnet18")
    err = capsys.readouterr().err
    assert rc == 2 and "02_old cannot explain a supplied model" in err and "--only 01" in err
    assert not (tmp_path / "out").exists(), "nothing may be written for a refused run"
    # The GAN notebooks too: they judge the GAN with the supplied model, so one that does not declare it is refused.
    (nbdir / "02_old.ipynb").rename(nbdir / "04_gan_dynamics.ipynb")
    rc, _ = _run(nbdir, tmp_path, "--only", "01", "04", "-p", "model_source", "torchvision", "-p", "model_name",
                 "resnet18")
    assert rc == 2 and "04_gan_dynamics cannot explain a supplied model" in capsys.readouterr().err


def test_a_profile_knob_is_checked_with_the_profile_it_is_merged_with(nbdir, tmp_path, capsys):
    _notebook(nbdir / "01_more.ipynb", PARAMS + '\ninfo_codes: "Optional[int]" = None  # codes', WRITE_METRICS)
    rc, _ = _run(nbdir, tmp_path, "-p", "info_codes", "9")  # smoke's shapes_z_dim is 5
    assert rc == 2 and "info_codes = 9" in capsys.readouterr().err


def test_standard_parameters_must_use_their_options(nbdir, tmp_path, capsys):
    rc, _ = _run(nbdir, tmp_path, "-p", "seed", "3")
    assert rc == 2 and "--seed" in capsys.readouterr().err


@pytest.mark.parametrize("args,allowed", [(["--profile", "fast"], "smoke"), (["--dataset", "mnist6k"], "mnist5k"),
                                          (["--device", "gpu"], "cuda")])
def test_bad_choices_list_the_allowed_values(nbdir, tmp_path, capsys, args, allowed):
    with pytest.raises(SystemExit) as exit_:
        runner.main(["--notebooks-dir", str(nbdir), "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "invalid choice" in err and allowed in err


def test_unknown_notebook_and_bad_seeds_are_refused(nbdir, tmp_path, capsys):
    assert _run(nbdir, tmp_path, "--only", "01_ok")[0] == 2
    assert "available: 00_ok" in capsys.readouterr().err
    assert _run(nbdir, tmp_path, "--seeds", "1,x")[0] == 2
    assert "--seeds" in capsys.readouterr().err
    for typo in ("0,,1", "0,1,", ",0"):  # read as 0,1 before: a typo ran other seeds than meant
        assert _run(nbdir, tmp_path, "--seeds", typo)[0] == 2
        assert f"--seeds '{typo}': expected comma-separated non-negative integers" in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "nothing written before a refusal"


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_refused(nbdir, tmp_path, capsys):
    assert _run(nbdir, tmp_path, "--device", "cuda")[0] == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_a_failing_cell_fails_the_run_naming_notebook_and_cell(nbdir, tmp_path):
    _notebook(nbdir / "01_bad.ipynb", PARAMS, "x = 1", "raise ValueError('planted failure')")
    _notebook(nbdir / "02_after.ipynb", PARAMS, "print('should not run')")
    rc, out = _run(nbdir, tmp_path)
    assert rc == 1
    assert "01_bad FAILED" in out and "code cell 3" in out and "ValueError: planted failure" in out
    assert not (tmp_path / "out" / "latest").exists()
    run = next((tmp_path / "out" / "runs").iterdir())
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed"
    assert [r["status"] for r in status["notebooks"]] == ["ok", "failed", "skipped"]
    assert (run / "INCOMPLETE").exists()


def test_keep_going_runs_the_rest_after_a_failure(nbdir, tmp_path):
    _notebook(nbdir / "01_bad.ipynb", PARAMS, "raise ValueError('planted failure')")
    _notebook(nbdir / "02_after.ipynb", PARAMS, "print('ran')")
    rc, out = _run(nbdir, tmp_path, "--keep-going", "--only", "01", "02")
    assert rc == 1
    run = next((tmp_path / "out" / "runs").iterdir())
    status = json.loads((run / "status.json").read_text())
    assert [(r["notebook"], r["status"]) for r in status["notebooks"]] == [("01_bad", "failed"), ("02_after", "ok")]


def _children(pid):
    try:
        return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


def test_an_interrupted_run_is_marked_incomplete_and_latest_stays(nbdir, tmp_path):
    assert _run(nbdir, tmp_path, "--only", "00")[0] == 0
    latest_before = (tmp_path / "out" / "latest").resolve()
    _notebook(nbdir / "01_slow.ipynb", PARAMS, "print('[progress] sleeping', flush=True)\nimport time\ntime.sleep(120)")
    _notebook(nbdir / "02_never.ipynb", PARAMS, "print('never')")
    lines = []

    def log(line):  # Ctrl-C as soon as the slow cell is running
        lines.append(line)
        if "[progress] sleeping" in line:
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()

    rc = runner.main(["--notebooks-dir", str(nbdir), "--out", str(tmp_path / "out"), "--cache-dir",
                      str(tmp_path / "cache"), "--profile", "smoke", "--only", "01", "02"], log=log)
    assert rc == 130 and any("INCOMPLETE" in line for line in lines)
    assert (tmp_path / "out" / "latest").resolve() == latest_before
    interrupted = [r for r in (tmp_path / "out" / "runs").iterdir() if r != latest_before][0]
    assert (interrupted / "INCOMPLETE").exists()
    status = json.loads((interrupted / "status.json").read_text())
    assert status["state"] == "incomplete"
    assert [(r["notebook"], r["status"]) for r in status["notebooks"]] == [("01_slow", "interrupted"),
                                                                          ("02_never", "not run")]
    assert _children(os.getpid()) == [], "papermill or its kernel outlived the interrupted run"


def test_a_run_killed_outright_is_called_interrupted_by_the_next_run_and_the_report(nbdir, tmp_path):
    """Issue 35: after a SIGKILL nothing can record the end, and status.json said "running" for ever. The run
    records its runner (host, pid, start time); a reader calls it interrupted once that process is gone, and the
    next run records it so and says so."""
    from xai_helpers.study import run_environment

    _notebook(nbdir / "01_slow.ipynb", PARAMS, "print('[progress] sleeping', flush=True)\nimport time\ntime.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-m", "xai_helpers.running.runner", "--notebooks-dir", str(nbdir),
                             "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--profile",
                             "smoke", "--only", "01"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        for line in proc.stdout:
            if "[progress] sleeping" in line:
                break
        (killed,) = (tmp_path / "out" / "runs").iterdir()
        assert run_environment(killed).get("state", "running") == "running"  # its runner is alive
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its kernel, with no chance to record anything
        proc.wait()
    assert json.loads((killed / "status.json").read_text())["state"] == "running"
    assert run_environment(killed)["state"] == "interrupted"
    rc, out = _run(nbdir, tmp_path, "--only", "00")
    assert rc == 0 and f"Earlier run {killed.name} was interrupted" in out
    assert json.loads((killed / "status.json").read_text())["state"] == "interrupted"
    assert json.loads((killed / "environment.json").read_text())["state"] == "interrupted"
    assert (killed / "INCOMPLETE").exists()


def test_several_seeds_get_one_folder_each(nbdir, tmp_path):
    rc, out = _run(nbdir, tmp_path, "--seeds", "1,2")
    assert rc == 0, out
    run = (tmp_path / "out" / "latest").resolve()
    for seed in (1, 2):
        assert json.loads((run / f"seed-{seed}" / "metrics" / "00_ok.json").read_text())["seed"] == seed


def test_value_parsing():
    assert NP.parse_value("3") == 3 and NP.parse_value("0.5") == 0.5
    assert NP.parse_value("true") is True and NP.parse_value("null") is None
    assert NP.parse_value("abc") == "abc" and NP.parse_value("1e-3") == 0.001
    assert NP.parse_value("[1, 2]") == [1, 2]
    assert NP.convert_value("str", "007") == "007" and NP.convert_value("int", "007") == 7
    assert NP._accepts("Optional[int]", None) and NP._accepts("Optional[int]", 3)
    assert not NP._accepts("int", True) and not NP._accepts("int", "x") and NP._accepts("float", 2)


def test_a_study_level_notebook_runs_once_after_every_seed_in_the_run_folder(nbdir, tmp_path):
    _notebook(nbdir / "06_evaluation.ipynb", PARAMS, '''import json, pathlib
root = pathlib.Path(run_dir)
seen = sorted(p.parent.parent.name for p in root.glob("seed-*/metrics/00_ok.json"))
(root / "metrics" / "06_evaluation.json").write_text(json.dumps({"seen": seen, "seed": seed}))''')
    rc, out = _run(nbdir, tmp_path, "--seeds", "1,2")
    assert rc == 0, out
    run = (tmp_path / "out" / "latest").resolve()
    assert json.loads((run / "metrics" / "06_evaluation.json").read_text()) == {"seen": ["seed-1", "seed-2"], "seed": 1}
    assert out.count("▶ 06_evaluation") == 1 and not (run / "seed-1" / "metrics" / "06_evaluation.json").exists()
    assert "06_evaluation" in (run / "summary.md").read_text()


def test_the_runner_entry_point_stays_where_it_was():
    """``python -m xai_helpers.runner`` (the old entry) and ``python -m xai_helpers.running.runner`` both answer."""
    import subprocess
    import sys

    for module in ("xai_helpers.runner", "xai_helpers.running.runner"):
        done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "--profile" in done.stdout, (module, done.stderr)


THREADS = '''import json, os, pathlib, torch
pathlib.Path(run_dir, "metrics", "00_ok.json").write_text(json.dumps(
    {"seed": seed, "omp": os.environ.get("OMP_NUM_THREADS"), "torch_threads": torch.get_num_threads()}))'''


def test_job_mode_writes_into_the_given_folder_with_its_own_status(nbdir, tmp_path):
    """--run-dir (what workflow/Snakefile runs): one notebook, one seed, into the folder itself; status and
    provenance in the job's own files, so jobs sharing a folder do not overwrite each other's; no runs/, no
    latest; --threads reaches the kernel."""
    _notebook(nbdir / "00_ok.ipynb", PARAMS, THREADS)
    _notebook(nbdir / "01_other.ipynb", PARAMS, "print('other')")
    folder = tmp_path / "out" / "mnist5k" / "seed-3"
    rc, out = _run(nbdir, tmp_path, "--run-dir", str(folder), "--only", "00", "--seed", "3", "--threads", "1")
    assert rc == 0, out
    assert json.loads((folder / "metrics" / "00_ok.json").read_text()) == {"seed": 3, "omp": "1", "torch_threads": 1}
    status = json.loads((folder / "logs" / "00_ok.status.json").read_text())
    assert status["state"] == "complete" and [(r["notebook"], r["seed"], r["status"]) for r in status["notebooks"]] \
        == [("00_ok", 3, "ok")]
    env = json.loads((folder / "logs" / "00_ok.environment.json").read_text())
    assert env["seeds"] == [3] and env["runner_torch_threads"] == 1 and env["state"] == "complete"
    assert (folder / "executed" / "00_ok.ipynb").exists() and (folder / "html" / "00_ok.html").exists()
    for absent in ("status.json", "environment.json", "INCOMPLETE", "summary.md", "runs", "latest"):
        assert not (folder / absent).exists() and not (tmp_path / "out" / absent).exists(), absent
    # a second job in the same folder keeps the first one's files
    assert _run(nbdir, tmp_path, "--run-dir", str(folder), "--only", "01", "--seed", "3")[0] == 0
    assert (folder / "logs" / "00_ok.status.json").exists() and (folder / "logs" / "01_other.status.json").exists()


@pytest.mark.parametrize("args,message", [
    (["--only", "00", "01"], "--run-dir runs exactly one notebook"),
    ([], "--run-dir runs exactly one notebook: name it with --only (got no --only)"),
    (["--only", "00", "--seeds", "0,1"], "--run-dir runs one seed, got --seeds 0,1"),
    (["--only", "00", "--threads", "0"], "--threads 0: expected a positive integer"),
])
def test_job_mode_is_refused_for_anything_but_one_notebook_and_one_seed(nbdir, tmp_path, capsys, args, message):
    _notebook(nbdir / "01_other.ipynb", PARAMS, "print('other')")
    rc, _ = _run(nbdir, tmp_path, "--run-dir", str(tmp_path / "job"), *args)
    assert rc == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "job").exists(), "nothing may be written for a refused run"


def test_a_failed_job_names_notebook_and_cell_and_exits_1(nbdir, tmp_path):
    _notebook(nbdir / "01_bad.ipynb", PARAMS, "x = 1", "raise ValueError('planted failure')")
    rc, out = _run(nbdir, tmp_path, "--run-dir", str(tmp_path / "job"), "--only", "01")
    assert rc == 1 and "01_bad FAILED" in out and "code cell 3" in out and "ValueError: planted failure" in out
    status = json.loads((tmp_path / "job" / "logs" / "01_bad.status.json").read_text())
    assert status["state"] == "failed" and status["notebooks"][0]["status"] == "failed"


def _latest(tmp_path):
    return (tmp_path / "out" / "latest").resolve()


def test_a_second_run_with_the_same_inputs_reuses_the_results_and_says_from_which_run(nbdir, tmp_path):
    rc, first = _run(nbdir, tmp_path, "-p", "width", "5")
    assert rc == 0 and "▶ 00_ok" in first, first
    first_run = _latest(tmp_path)
    rc, second = _run(nbdir, tmp_path, "-p", "width", "5")
    second_run = _latest(tmp_path)
    assert rc == 0 and second_run != first_run
    assert "▶ 00_ok" not in second and f"reused from run {first_run.name}" in second, second
    # the reused run holds the same results as if it had run, and says where they come from
    for rel in ("metrics/00_ok.json", "executed/00_ok.ipynb", "html/00_ok.html", "logs/00_ok.log"):
        assert (second_run / rel).read_bytes() == (first_run / rel).read_bytes(), rel
    record = json.loads((second_run / "status.json").read_text())["notebooks"][0]
    assert record["status"] == "ok" and record["reused_from"] == first_run.name and record["computed_seconds"] > 0
    assert f"| {first_run.name} |" in (second_run / "summary.md").read_text()


def test_a_changed_parameter_or_rerun_runs_the_notebook_again(nbdir, tmp_path):
    assert _run(nbdir, tmp_path, "-p", "width", "5")[0] == 0
    rc, out = _run(nbdir, tmp_path, "-p", "width", "6")
    assert rc == 0 and "▶ 00_ok" in out and "reused" not in out
    assert json.loads((_latest(tmp_path) / "metrics" / "00_ok.json").read_text())["width"] == 6
    rc, out = _run(nbdir, tmp_path, "-p", "width", "6", "--rerun")
    assert rc == 0 and "▶ 00_ok" in out and "reused" not in out
    rerun = _latest(tmp_path).name
    rc, out = _run(nbdir, tmp_path, "-p", "width", "6")
    assert rc == 0 and f"reused from run {rerun}" in out, "a rerun's results replace the ones stored before"
    rc, out = _run(nbdir, tmp_path, "-p", "width", "6", "--seed", "1")
    assert rc == 0 and "▶ 00_ok" in out, "another seed is another input"


def test_an_edited_notebook_runs_again(nbdir, tmp_path):
    assert _run(nbdir, tmp_path)[0] == 0
    _notebook(nbdir / "00_ok.ipynb", PARAMS, WRITE_METRICS + "\nprint('edited')")
    rc, out = _run(nbdir, tmp_path)
    assert rc == 0 and "▶ 00_ok" in out


def test_a_failed_notebook_is_never_reused(nbdir, tmp_path):
    _notebook(nbdir / "00_ok.ipynb", PARAMS, "raise ValueError('boom')")
    assert _run(nbdir, tmp_path)[0] == 1
    rc, out = _run(nbdir, tmp_path)
    assert rc == 1 and "▶ 00_ok" in out and "reused" not in out


def test_a_study_level_notebook_is_reused_only_while_the_metrics_it_reads_are_the_same(nbdir, tmp_path):
    _notebook(nbdir / "06_evaluation.ipynb", PARAMS, '''import json, pathlib
root = pathlib.Path(run_dir)
widths = [json.loads(p.read_text())["width"] for p in sorted(root.glob("seed-*/metrics/00_ok.json"))]
(root / "metrics" / "06_evaluation.json").write_text(json.dumps({"widths": widths}))''')
    assert _run(nbdir, tmp_path, "--seeds", "1,2", "-p", "width", "4")[0] == 0
    rc, out = _run(nbdir, tmp_path, "--seeds", "1,2", "-p", "width", "4")
    assert rc == 0 and out.count("reused from run") == 3, out  # two seeds' 00_ok and 06
    # 06 declares width too; a notebook that reads another one's metrics must rerun when those change, even where
    # its own parameters did not: here only 00_ok's metrics file differs (its code changed)
    _notebook(nbdir / "00_ok.ipynb", PARAMS, WRITE_METRICS.replace('"width": width', '"width": width + 1'))
    rc, out = _run(nbdir, tmp_path, "--seeds", "1,2", "-p", "width", "4")
    assert rc == 0 and "▶ 06_evaluation" in out, out
    assert json.loads((_latest(tmp_path) / "metrics" / "06_evaluation.json").read_text()) == {"widths": [5, 5]}


def test_job_mode_never_reuses(nbdir, tmp_path):
    folder = tmp_path / "out" / "mnist5k" / "seed-0"
    assert _run(nbdir, tmp_path, "--run-dir", str(folder), "--only", "00")[0] == 0
    rc, out = _run(nbdir, tmp_path, "--run-dir", str(folder), "--only", "00")
    assert rc == 0 and "▶ 00_ok" in out and "reused" not in out
    assert not (tmp_path / "cache" / "notebooks").exists()


def test_each_notebook_reports_its_slowest_cells(nbdir, tmp_path):
    _notebook(nbdir / "00_ok.ipynb", PARAMS, "import time; time.sleep(0.6)", WRITE_METRICS)
    rc, out = _run(nbdir, tmp_path)
    assert rc == 0 and "(slowest: cell 2 (import time; time.sleep(0.6))" in out, out
    cells = json.loads((_latest(tmp_path) / "logs" / "00_ok.cells.json").read_text())
    # in notebook order: the parameters cell (1), papermill's injected one (0, not counted), then the rest
    assert [c["cell"] for c in cells] == [1, 0, 2, 3] and cells[2]["seconds"] >= 0.6


def test_each_notebook_records_the_peak_memory_of_its_kernel(nbdir, tmp_path):
    """What a cluster job's memory request (mem_mb) must cover: the kernel's peak, measured, not the runner's."""
    # held for 1.5 s: the peak is sampled every 0.5 s (peak_memory.py)
    _notebook(nbdir / "00_big.ipynb", PARAMS,
              "block = bytearray(400 * 2**20); block[::4096] = b'x' * len(block[::4096])",
              "import time; time.sleep(1.5)")
    rc, out = _run(nbdir, tmp_path)
    assert rc == 0, out
    records = {r["notebook"]: r for r in json.loads((_latest(tmp_path) / "status.json").read_text())["notebooks"]}
    small, big = records["00_ok"]["peak_memory_mb"], records["00_big"]["peak_memory_mb"]
    # 00_big runs first: per notebook, not the largest so far
    assert 20 < small < 400 <= big < small + 600, (small, big)


def test_a_parameter_reaches_every_notebook_that_declares_it(nbdir, tmp_path):
    """``-p width 7`` is given to each selected notebook that declares ``width`` (as ``-p epochs 3`` reaches every
    notebook that uses 01's classifier), and to none that does not."""
    _notebook(nbdir / "01_also.ipynb", PARAMS, WRITE_METRICS.replace("00_ok.json", "01_also.json"))
    _notebook(nbdir / "02_other.ipynb", 'seed: int = 0  # seed\nrun_dir: str = ""  # run folder',
              'import pathlib; pathlib.Path(run_dir, "metrics", "02_other.json").write_text("{}")')
    rc, out = _run(nbdir, tmp_path, "-p", "width", "7")
    assert rc == 0, out
    run = _latest(tmp_path)
    assert [json.loads((run / "metrics" / f"{nb}.json").read_text())["width"] for nb in ("00_ok", "01_also")] == [7, 7]
    assert "width" not in (run / "logs" / "02_other.parameters.yaml").read_text()


def test_the_kernel_is_stopped_at_once_after_the_last_cell(nbdir, tmp_path):
    """The notebook's child (running/notebook_job.py) stops the kernel after the last cell instead of asking it to shut
    down, which makes a study kernel tear its interpreter down first (1-2 s of CPU per notebook): the kernel's atexit
    handlers never run, and everything the cells wrote is there."""
    marker = tmp_path / "kernel_tore_down"
    _notebook(nbdir / "00_ok.ipynb", PARAMS,
              f"import atexit, pathlib; atexit.register(pathlib.Path({str(marker)!r}).touch)", WRITE_METRICS)
    rc, out = _run(nbdir, tmp_path)
    assert rc == 0 and "[progress] wrote metrics" in out, out
    assert json.loads((_latest(tmp_path) / "metrics" / "00_ok.json").read_text())["width"] == 3
    assert not marker.exists()



@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads the child's memory map (Linux)")
def test_the_notebook_child_does_not_load_torch(nbdir, tmp_path):
    """The process that runs each notebook (the kernel's parent) imports papermill only: started with ``-m`` from
    this package it imported torch, 2 s per notebook before the kernel even started."""
    _notebook(nbdir / "00_ok.ipynb", PARAMS, WRITE_METRICS, 'import os, pathlib\n'
              'maps = pathlib.Path(f"/proc/{os.getppid()}/maps").read_text()\n'
              'print("[progress] parent has libtorch:", "libtorch" in maps, "python:", "libpython" in maps or "python" in maps)')
    rc, out = _run(nbdir, tmp_path)
    assert rc == 0 and "[progress] parent has libtorch: False python: True" in out, out


def test_a_kernel_that_dies_is_named_as_such(nbdir, tmp_path):
    """The notebook's child exits 138 when the kernel dies, as papermill's command line did, and the run says so."""
    _notebook(nbdir / "00_ok.ipynb", PARAMS, "import os; os._exit(3)", WRITE_METRICS)
    rc, out = _run(nbdir, tmp_path)
    assert rc != 0 and "(the kernel died)" in out, out


def test_the_runner_and_the_workflow_check_their_input_without_importing_torch():
    """``run_all.sh --help``, a refused option and the Snakemake process (which imports the workflow module) answer
    without torch's second of imports; a study package name still comes when asked for."""
    import subprocess

    code = ("import sys; import xai_helpers.running.runner, xai_helpers.running.workflow; print('torch' in sys.modules); "
            "from xai_helpers.study import start_notebook; print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"], done.stdout + done.stderr
