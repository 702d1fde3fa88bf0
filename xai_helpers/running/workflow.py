"""What ``workflow/Snakefile`` needs from the study: its configuration, checked before any job runs, the job
graph's folders and notebooks (:mod:`.job_graph`), and the runner command of each job.

The Snakefile stays a readable list of rules; everything that can be wrong in a configuration is refused here
with the key, the bad value and what is allowed, at the moment Snakemake reads the Snakefile (a dry run
included), before any job starts. Notebook parameters (``params``) are checked exactly as the runner checks
``-p`` (undeclared names, types, ranges for each data set), and each job is given only the parameters its
notebook declares, since the runner refuses a ``-p`` that the one notebook of a job does not take. Three ``params``
are the runner's options, not notebook parameters (:data:`RUNNER_OPTIONS`): ``data_dir``, ``test_dir`` and ``device``.
"""
from __future__ import annotations

import json
import shlex
import sys
from functools import lru_cache
from pathlib import Path

from ..data import DATASETS
from ..study import PROFILES, REPO_ROOT
from .arguments import DEVICES
from .job_graph import JOBS, PER_SEED
from .notebook_parameters import DATA_FOLDERS, UsageError, check_ranges, validate_parameters

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
KEYS = ("datasets", "seeds", "profile", "threads", "mem_mb", "runtime", "gpus", "gpu_partition", "out", "cache",
        "params")
#: ``params`` that are runner options rather than notebook parameters: the data folder and the device.
RUNNER_OPTIONS = {name: "--" + name.replace("_", "-") for name in (*DATA_FOLDERS, "device")}


class WorkflowConfigError(ValueError):
    """A bad workflow configuration: the message names the key, the value and what is allowed."""


def _bad(key: str, value, allowed: str) -> WorkflowConfigError:
    return WorkflowConfigError(f"workflow config: {key} = {value!r} is not allowed: expected {allowed} "
                               f"(workflow/config.yaml, or --config {key}=...)")


def _integer(v) -> int | None:
    """An int from an int or from decimal digits (Snakemake's ``--config seeds='[0,1]'`` gives the items as
    text); None for anything else (booleans, floats, other text)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().isdigit():
        return int(v)
    return None


def check_config(config: dict) -> dict:
    """The configuration with its values checked and normalised (paths absolute, relative ones taken from the
    repository root, as the runner takes them); raises :class:`WorkflowConfigError` on the first bad value."""
    unknown = sorted(set(config) - set(KEYS))
    if unknown:
        raise WorkflowConfigError(f"workflow config: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(KEYS)}")
    missing = [k for k in KEYS if k not in config]
    if missing:
        raise WorkflowConfigError(f"workflow config: missing key(s) {', '.join(missing)} (see workflow/config.yaml)")
    datasets, seeds = config["datasets"], config["seeds"]
    if isinstance(datasets, str):  # --config datasets=mnist5k: one name
        datasets = [datasets]
    if not isinstance(datasets, list) or not datasets or any(d not in DATASETS for d in datasets) \
            or len(set(datasets)) != len(datasets):
        raise _bad("datasets", config["datasets"], f"a non-empty list of distinct names from {', '.join(DATASETS)}")
    if not isinstance(seeds, list):
        seeds = [seeds]
    seeds = [_integer(s) for s in seeds]
    if not seeds or not all(s is not None and s >= 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise _bad("seeds", config["seeds"], "a non-empty list of distinct non-negative integers, e.g. [0, 1, 2]")
    if config["profile"] not in PROFILES:
        raise _bad("profile", config["profile"], f"one of {', '.join(PROFILES)}")
    threads, mem_mb, runtime = (_integer(config[k]) for k in ("threads", "mem_mb", "runtime"))
    if threads is None or threads < 1:
        raise _bad("threads", config["threads"], "a positive integer (CPU threads per job)")
    if mem_mb is None or mem_mb < 100:
        raise _bad("mem_mb", config["mem_mb"], "an integer of at least 100 (memory per job in MB)")
    if runtime is None or runtime < 1:
        raise _bad("runtime", config["runtime"], "a positive integer (minutes per job)")
    gpus = _check_gpus(config)
    for key in ("out", "cache"):
        if not isinstance(config[key], str) or not config[key].strip():
            raise _bad(key, config[key], "a folder path")
    params = config["params"] or {}
    if not isinstance(params, dict):
        raise _bad("params", config["params"], "a mapping of notebook parameter names to values, e.g. {epochs: 3}")
    params = dict(params)
    for folder in DATA_FOLDERS:
        if folder in params:
            if not isinstance(params[folder], str) or not params[folder].strip():
                raise _bad(f"params.{folder}", params[folder], "a folder path (of torchvision or imagefolder data)")
            params[folder] = str(_absolute(params[folder]))  # jobs run in Snakemake's working directory
    if "device" in params and params["device"] not in DEVICES:
        raise _bad("params.device", params["device"], f"one of {', '.join(DEVICES)}")
    if gpus and params.get("device") == "cpu":
        raise _bad("gpus", config["gpus"], "0 when params.device is cpu (a job would hold GPUs it never uses)")
    checked = dict(config, datasets=list(datasets), seeds=seeds, threads=threads, mem_mb=mem_mb, runtime=runtime,
                   gpus=gpus, params=params,
                   out=str(_absolute(config["out"])), cache=str(_absolute(config["cache"])))
    check_params(checked)
    return checked


def _check_gpus(config: dict) -> int:
    """The GPUs per model job; refuses a GPU partition for jobs that ask for no GPU (it would never be used)."""
    gpus = _integer(config["gpus"])
    if gpus is None or gpus < 0:
        raise _bad("gpus", config["gpus"], "a non-negative integer (GPUs per job of notebooks 01-05; 0: CPUs only)")
    partition = config["gpu_partition"]
    if not isinstance(partition, str) or partition != partition.strip() or (partition and not gpus):
        raise _bad("gpu_partition", partition, "a SLURM partition name, given together with gpus > 0, or \"\"")
    return gpus


def uses_gpus(config: dict, notebook: str | None) -> bool:
    """Whether the job of ``notebook`` (None: the summary) is given GPUs: one that trains or explains models (the
    per-seed notebooks, 01-05) when ``gpus`` > 0. The one place that decides it, for resources and device alike."""
    return bool(config["gpus"]) and any(job.notebook == notebook for job in PER_SEED)


def job_resources(config: dict, notebook: str | None = None) -> dict:
    """What the job of ``notebook`` (None: the summary) asks its executor for: memory and minutes, and where
    :func:`uses_gpus` that many GPUs (the SLURM executor turns ``gpu`` into ``sbatch --gpus``) in
    the GPU partition, if one is named. They are the rules' own resources, so a profile's or the command line's
    ``--default-resources`` (an account, a partition) adds to them instead of replacing them."""
    resources = {"mem_mb": config["mem_mb"], "runtime": config["runtime"]}
    if uses_gpus(config, notebook):
        resources["gpu"] = config["gpus"]
        if config["gpu_partition"]:
            resources["slurm_partition"] = config["gpu_partition"]
    return resources


def _absolute(path: str) -> Path:
    p = Path(path).expanduser()
    return (p if p.is_absolute() else REPO_ROOT / p).resolve()


@lru_cache(maxsize=None)
def declared_parameters() -> dict[str, dict]:
    """papermill's view of every study notebook's parameters (01–06), read once per process."""
    import papermill

    return {job.notebook: papermill.inspect_notebook(str(NOTEBOOKS_DIR / f"{job.notebook}.ipynb")) for job in JOBS}


def _as_text(value) -> str:
    """A parameter value as the runner's ``-p`` reads it: strings as they are, anything else as JSON (which is
    YAML: ``true``, ``null``, ``[1, 2]``)."""
    return value if isinstance(value, str) else json.dumps(value)


def check_params(config: dict) -> None:
    """``params`` checked against the study's notebooks as the runner checks ``-p``, for every data set."""
    declared = declared_parameters()
    extra = {name: _as_text(v) for name, v in config["params"].items() if name not in RUNNER_OPTIONS}
    try:
        validate_parameters(declared, extra)
        for dataset in config["datasets"]:
            check_ranges(declared, {"profile": config["profile"], "device": config["params"].get("device", "auto"),
                                    "seed": config["seeds"][0], "dataset": dataset,
                                    **{f: config["params"].get(f, "") for f in DATA_FOLDERS}}, extra, config["profile"])
    except UsageError as err:
        raise WorkflowConfigError(f"workflow config: params: {err}".replace("-p ", "")) from None


def runner_command(notebook: str, dataset: str, seed: int, run_dir: str, config: dict, threads: int) -> str:
    """The shell command of one job: the runner in job mode on ``notebook`` for ``dataset`` and ``seed``, writing
    into ``run_dir``, with the configuration's parameters that the notebook declares."""
    declared = declared_parameters()[notebook]
    args = [sys.executable, "-m", "xai_helpers.running.runner", "--run-dir", run_dir, "--only", notebook,
            "--profile", config["profile"], "--dataset", dataset, "--seed", str(seed),
            "--cache-dir", config["cache"], "--threads", str(threads)]
    params = dict(config["params"])
    if uses_gpus(config, notebook):
        params.setdefault("device", "cuda")  # a job given GPUs uses them, or fails saying CUDA is missing
    for name, value in sorted(params.items()):
        if name in RUNNER_OPTIONS:
            args += [RUNNER_OPTIONS[name], value]
        elif name in declared:
            args += ["-p", name, _as_text(value)]
    return shlex.join(args)


def summary_command(config: dict) -> str:
    """The last job's command: the cross-data-set summary in ``<out>/summary/``."""
    return shlex.join([sys.executable, "-m", "xai_helpers.reporting.cross_dataset_report", "--out", config["out"],
                       "--datasets", *config["datasets"]])
