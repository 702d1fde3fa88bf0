"""Run the study headless: ``python -m xai_helpers.running.runner`` (``run_all.sh`` calls this).

Each notebook runs in its own papermill process into a run folder ``<out>/runs/<run_id>/`` (its layout:
README.md; the run's flow: docs/ARCHITECTURE.md). Parameters are validated before anything runs: papermill only warns about a parameter a
notebook does not declare and then runs with the default, which silently changes results.

Exit status: 0 all notebooks succeeded; 1 a notebook failed (its name and cell are printed); 2 bad
arguments; 130 interrupted. A run that did not finish keeps an ``INCOMPLETE`` marker, and ``<out>/latest``
moves only when a run finishes without failure.

Job mode (``--run-dir DIR --only NB``, what ``workflow/Snakefile`` runs): one notebook and one seed, written into
``DIR`` itself, so that a workflow engine can run the study's notebooks as separate, parallel jobs into one
folder per data set and seed. Several jobs then share a folder, so a job keeps its own status and provenance in
``DIR/logs/<notebook>.status.json`` and ``.environment.json`` (:mod:`.run_records` reads them back as one run)
instead of the run-wide ``status.json`` and ``environment.json``; it neither creates ``runs/<id>`` nor moves
``latest``. A study-level job (06) also writes the folder's ``summary.md`` and ``report.html``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ..data.catalogue import DATASETS
from ..study.config import PROFILES, profile_name
from . import notebook_reuse as reuse
from ..study.cell_timings import cell_timings, describe_cell, slowest_cells
from .run_summary import print_table, write_summary
from .notebook_parameters import UsageError, check_ranges, notebook_parameters, validate_parameters
from ..study.run_io import DEFAULT_CACHE_DIR, REPO_ROOT, RUN_SUBDIRS, write_json_atomic

DEVICES = ("auto", "cpu", "cuda")
#: Notebooks about the whole study rather than one seed: they run once, after every seed's notebooks, with the
#: run folder itself as ``run_dir`` (where they find ``seed-N/`` folders of a multi-seed run) and the first seed.
STUDY_LEVEL = ("06_evaluation",)
#: Environment variables that set a kernel's thread count (``--threads``).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Log lines echoed to the console while a notebook runs (the full log goes to logs/<notebook>.log).
_ECHO = re.compile(r"^\[(train|cache|gan|tcav|progress)")


def discover_notebooks(notebooks_dir: Path) -> list[Path]:
    return sorted(p for p in notebooks_dir.glob("[0-9][0-9]_*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def select_notebooks(available: list[Path], only: list[str] | None) -> list[Path]:
    """Notebooks named by ``only`` (full stem, or its number prefix such as ``01``), in study order."""
    if not only:
        return available
    stems = {p.stem: p for p in available}
    chosen = set()
    for name in only:
        name = Path(name).stem
        matches = [s for s in stems if s == name or s.split("_", 1)[0] == name]
        if not matches:
            close = difflib.get_close_matches(name, list(stems), n=3)
            raise UsageError(f"--only: no notebook {name!r}" + (f" (did you mean {', '.join(close)}?)" if close else "")
                             + f"; available: {', '.join(stems) or 'none'}")
        chosen.update(matches)
    return [p for p in available if p.stem in chosen]


def make_run_id(profile: str, seeds: list[int], out: Path) -> str:
    from ..study.reproducibility import git_sha

    sha = git_sha(short=True, cwd=REPO_ROOT).replace("+", "-")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = f"{stamp}-{sha}-{profile}" + (f"-seeds{'_'.join(map(str, seeds))}" if len(seeds) > 1 else "")
    (out / "runs").mkdir(parents=True, exist_ok=True)
    run_id, n = base, 1
    while True:  # mkdir claims the name atomically, so two runs started in the same second get two folders
        try:
            (out / "runs" / run_id).mkdir()
            return run_id
        except FileExistsError:
            n += 1
            run_id = f"{base}-{n}"


def failing_cell(executed: Path) -> str:
    """'cell N: Error: message' for the first cell with an error output in an executed notebook."""
    try:
        nb = json.loads(executed.read_text())
    except (OSError, ValueError):
        return "no executed notebook was written (the kernel may not have started)"
    code_index = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" not in tags:
            code_index += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = "".join(cell.get("source", "")).strip().splitlines()[:1]
                return (f"code cell {code_index} ({first[0][:60] if first else ''!r}): "
                        f"{out.get('ename')}: {str(out.get('evalue'))[:1500]}")
    return "no cell recorded an error (timeout or the kernel died)"


def export_html(executed: Path, html: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(executed))
    html.write_text(body)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    """Ask Linux to send SIGTERM to papermill when the runner dies, so no orphan competes for the cores."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def run_notebook(nb: Path, run_root: Path, params: dict, timeout: float | None, log, record: dict,
                 threads: int | None = None) -> dict:
    """Execute one notebook with papermill in a child process, filling in its status ``record``."""
    executed = run_root / "executed" / nb.name
    log_path = run_root / "logs" / f"{nb.stem}.log"
    param_file = run_root / "logs" / f"{nb.stem}.parameters.yaml"
    param_file.write_text(yaml.safe_dump(params, sort_keys=True))
    # run as a script, not with -m: importing the package would import torch, 2 s per notebook; -P keeps its folder
    # (whose config.py, cache.py, ... would shadow other modules) off sys.path
    cmd = [sys.executable, "-P", str(Path(__file__).with_name("notebook_job.py")), str(nb), str(executed),
           str(param_file), "--cwd", str(nb.parent)]
    if timeout:
        cmd += ["--execution-timeout", str(int(timeout))]
    env = dict(os.environ, XAI_HEADLESS="1", PYTHONUNBUFFERED="1")
    for var in ("XAI_PROFILE", "MPLBACKEND"):  # explicit profile wins; Agg would drop inline figures
        env.pop(var, None)
    if threads:  # torch (intra- and inter-op), OpenMP and BLAS read these when the kernel starts
        env.update({var: str(threads) for var in THREAD_VARIABLES})
    t0 = time.perf_counter()
    record.update(status="running", seconds=None, parameters=params)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    try:
        with open(log_path, "w") as fh:
            for line in proc.stdout:
                fh.write(line)
                fh.flush()
                if _ECHO.match(line):
                    log(f"    {line.rstrip()}")
        rc = proc.wait()
    except BaseException:
        # Interrupted: stop papermill's process group; papermill shuts its kernel down on SIGTERM, and the
        # kernel also exits when its parent is gone.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        record.update(status="interrupted", seconds=time.perf_counter() - t0)
        raise
    finally:
        record["seconds"] = time.perf_counter() - t0
    record["returncode"] = rc
    if rc == 0:
        text = executed.read_text() if executed.exists() else ""
        record["status"] = "ok" if '"output_type": "error"' not in text else "failed"
    else:
        record["status"] = "failed"
    if record["status"] == "failed":
        record["error"] = failing_cell(executed)
        if rc == 138:
            record["error"] += " (the kernel died)"
    if executed.exists():
        try:
            export_html(executed, run_root / "html" / f"{nb.stem}.html")
        except Exception as err:  # an export problem must not hide the notebook's own status
            record["html_error"] = f"{type(err).__name__}: {err}"
        record_cell_timings(executed, run_root / "logs" / f"{nb.stem}.cells.json", record)
    return record


def record_cell_timings(executed: Path, cells_file: Path, record: dict) -> None:
    """Every cell's wall time into ``logs/<notebook>.cells.json``, the slowest into the notebook's record."""
    try:
        rows = cell_timings(executed)
    except (OSError, ValueError) as err:  # a notebook that wrote no readable copy has no cell times
        record["cells_error"] = f"{type(err).__name__}: {err}"
        return
    write_json_atomic(cells_file, rows)
    record["slowest_cells"] = slowest_cells(rows)


def update_latest(out: Path, run_root: Path) -> None:
    """Point ``<out>/latest`` at ``run_root`` atomically (a relative symlink)."""
    link = out / "latest"
    if link.exists() and not link.is_symlink():
        raise RuntimeError(f"{link} exists and is not a symlink; move it away so the runner can point it at runs")
    tmp = out / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(run_root, out))
    os.replace(tmp, link)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_all.sh", description="Run the XAI study notebooks headless with papermill.",
        epilog="Any other notebook parameter: -p NAME VALUE (see `papermill --help-notebook notebooks/NB.ipynb`).")
    p.add_argument("--profile", choices=list(PROFILES), default=None,
                   help="scale of the study (default: $XAI_PROFILE, else quick)")
    p.add_argument("--dataset", choices=list(DATASETS), default=None, help="data set (default: each notebook's)")
    p.add_argument("--data-dir", default=None, help="folder with torchvision/imagefolder data (default: data/)")
    p.add_argument("--device", choices=list(DEVICES), default="auto", help="auto picks CUDA when present")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=None, help="seed of everything random (default 0)")
    seeds.add_argument("--seeds", default=None, help="comma-separated seeds: repeat the study once per seed")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (e.g. 01 or 01_cnn_training)")
    p.add_argument("--out", default=str(REPO_ROOT / "results"), help="results folder (runs/ and latest go here)")
    p.add_argument("--cache-dir", default=None, help="model cache (default: <repo>/results/cache)")
    p.add_argument("--keep-going", action="store_true", help="run the remaining notebooks after a failure")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="any other notebook parameter (repeatable)")
    p.add_argument("--timeout", type=float, default=None, help="per-cell execution timeout in seconds")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads of each notebook's kernel (default: torch's, one per core)")
    p.add_argument("--rerun", action="store_true",
                   help="run every notebook, even one whose results an earlier run computed from the same inputs "
                        "(by default those are reused from the cache); what it computes replaces them there")
    p.add_argument("--run-dir", default=None, metavar="DIR",
                   help="job mode (workflow/Snakefile): run the one notebook named by --only, for one seed, into DIR "
                        "itself (no runs/<id>, 'latest' not moved); its status goes to DIR/logs/<notebook>.status.json")
    p.add_argument("--notebooks-dir", default=str(REPO_ROOT / "notebooks"), help=argparse.SUPPRESS)
    return p


def parse_seeds(args) -> list[int]:
    if args.seeds is None:
        return [args.seed if args.seed is not None else 0]
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--seeds {args.seeds!r}: expected comma-separated non-negative integers, e.g. 0,1,2")
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise UsageError(f"--seeds {args.seeds!r}: expected distinct non-negative integers, e.g. 0,1,2")
    return seeds


def main(argv: list[str] | None = None, log=print) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _main(args, log)
    except UsageError as err:
        parser.print_usage(sys.stderr)
        print(f"run_all.sh: error: {err}", file=sys.stderr)
        return 2


# Native Windows is refused rather than half-run: the runner stops papermill's process group (os.killpg), treats a
# closed terminal (SIGHUP) like Ctrl-C and points runs/latest with a symlink, none of which Windows has as POSIX does,
# and none of it was run there. WSL 2 is Linux, where all of it was.
NATIVE_WINDOWS = ("native Windows is not supported: run the study in WSL 2 (Linux), where ./run_all.sh works as on "
                  "Linux (README, 'Set up')")


def _main(args, log) -> int:
    if sys.platform == "win32":
        raise UsageError(NATIVE_WINDOWS)
    import papermill

    try:
        profile = profile_name(args.profile)
    except ValueError as err:
        raise UsageError(f"{err} (from $XAI_PROFILE)") from None
    seeds = parse_seeds(args)
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed {args.seed}: expected a non-negative integer")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads {args.threads}: expected a positive integer")
    if args.run_dir is not None and len(seeds) > 1:
        raise UsageError(f"--run-dir runs one seed, got --seeds {args.seeds}: use --seed (one job per seed)")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: torch sees no CUDA GPU on this machine; use --device auto or cpu")
    notebooks = select_notebooks(discover_notebooks(Path(args.notebooks_dir)), args.only)
    if not notebooks:
        raise UsageError(f"no notebooks found in {args.notebooks_dir}")
    if args.run_dir is not None and (not args.only or len(notebooks) != 1):
        raise UsageError(f"--run-dir runs exactly one notebook: name it with --only "
                         f"(got {', '.join(nb.stem for nb in notebooks) if args.only else 'no --only'})")
    declared = {nb.stem: papermill.inspect_notebook(str(nb)) for nb in notebooks}
    extra = {name: value for name, value in args.parameter}
    validate_parameters(declared, extra)
    for option, name in (("--dataset", "dataset"), ("--data-dir", "data_dir")):
        if getattr(args, name) is not None and not any(name in params for params in declared.values()):
            raise UsageError(f"{option}: none of the selected notebooks ({', '.join(declared)}) takes a {name}")

    standard = {"profile": profile, "device": args.device, "seed": seeds[0]}
    standard.update({name: getattr(args, name) for name in ("dataset", "data_dir") if getattr(args, name) is not None})
    check_ranges(declared, standard, extra, profile)

    out = Path(args.out).expanduser().resolve()
    cache_dir = Path(args.cache_dir).expanduser().resolve() if args.cache_dir else DEFAULT_CACHE_DIR
    job = args.run_dir is not None
    if job:
        run_root = Path(args.run_dir).expanduser().resolve()
        run_root.mkdir(parents=True, exist_ok=True)
        run_id = f"{run_root.name} · {notebooks[0].stem}"
    else:
        run_id = make_run_id(profile, seeds, out)  # creates the folder
        run_root = out / "runs" / run_id
    multi = len(seeds) > 1
    for seed in seeds:
        for sub in RUN_SUBDIRS:
            (run_root / (f"seed-{seed}" if multi else "") / sub).mkdir(parents=True, exist_ok=True)
    if multi and any(nb.stem in STUDY_LEVEL for nb in notebooks):
        for sub in RUN_SUBDIRS:
            (run_root / sub).mkdir(parents=True, exist_ok=True)
    if not job:
        (run_root / "INCOMPLETE").write_text("This run has not finished (or was interrupted); see status.json.\n")
    # A job shares its folder with the other notebooks' jobs: its status and provenance are its own files.
    status_path = run_root / ("logs/" + notebooks[0].stem + ".status.json" if job else "status.json")
    environment_path = run_root / ("logs/" + notebooks[0].stem + ".environment.json" if job else "environment.json")

    from ..study.reproducibility import provenance, resolve_device

    device = resolve_device(args.device)
    started = dt.datetime.now(dt.timezone.utc)
    env_info = provenance(device, seeds=seeds, profile=profile, run_id=run_id, argv=sys.argv[1:],
                          start_utc=started.isoformat(timespec="seconds"), notebooks=[nb.stem for nb in notebooks])
    # Measured in the runner, these two would describe this process, not the kernels that do the work:
    # each notebook calls seed_everything (deterministic algorithms on) in its own kernel. The kernels inherit
    # the runner's environment, so they run with the runner's torch threads unless --threads sets theirs.
    env_info.pop("deterministic", None)
    env_info["runner_torch_threads"] = args.threads or env_info.pop("torch_threads")
    env_info.pop("torch_threads", None)
    write_json_atomic(environment_path, env_info)
    log(f"Study run {run_id}: profile {profile}, seeds {seeds}, device {device}, "
        f"{len(notebooks)} notebook(s) → {run_root}")

    records: list[dict] = []
    state = "running"
    code = reuse.code_digest()

    def reuse_notebook(key: str, entry: dict, folder: Path, record: dict, params: dict) -> None:
        t0 = time.perf_counter()
        reuse.restore(cache_dir, key, entry, folder)
        record.update(status="ok", seconds=time.perf_counter() - t0, parameters=params,
                      reused_from=entry["run_id"], computed_seconds=entry["seconds"],
                      slowest_cells=entry.get("slowest_cells", []))

    def save_status():
        write_json_atomic(status_path, {"state": state, "run_id": run_id, "notebooks": records})

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    # A closed terminal (SIGHUP) or a kill (SIGTERM) ends the run like Ctrl-C: marked incomplete, children stopped.
    previous = {sig: signal.signal(sig, on_sigterm) for sig in (signal.SIGTERM, signal.SIGHUP)}
    failed = False
    try:
        save_status()
        def run_one(nb: Path, seed: int, folder: Path) -> None:
            nonlocal failed
            if failed and not args.keep_going:
                records.append({"notebook": nb.stem, "seed": seed, "status": "skipped", "seconds": None})
                return
            options = {"profile": profile, "device": args.device, "seed": seed, "run_dir": str(folder),
                       "cache_dir": str(cache_dir)}
            if args.dataset is not None:
                options["dataset"] = args.dataset
            if args.data_dir is not None:
                options["data_dir"] = str(Path(args.data_dir).expanduser().resolve())
            params = notebook_parameters(declared[nb.stem], options, extra)
            key = None if job else reuse.notebook_key(
                nb, params, cache_dir=cache_dir, threads=args.threads, device=str(device),
                study_level=nb.stem in STUDY_LEVEL, run_root=run_root, code=code)
            # --rerun runs the notebook and stores what it wrote, replacing what an earlier run left there
            entry = reuse.lookup(cache_dir, key) if key and not args.rerun else None
            record = {"notebook": nb.stem, "seed": seed, "status": "running", "seconds": None}
            records.append(record)
            if entry is not None:
                reuse_notebook(key, entry, folder, record, params)
                save_status()
                log(f"↺ {nb.stem} (seed {seed}): reused from run {entry['run_id']}, which computed it in "
                    f"{entry['seconds']:.1f} s from the same inputs (--rerun runs it again)")
                return
            log(f"▶ {nb.stem} (seed {seed}) …")
            save_status()
            before = reuse.snapshot(folder) if key else None
            run_notebook(nb, folder, params, args.timeout, log, record, threads=args.threads)
            save_status()
            if record["status"] == "ok":
                slowest = "; ".join(describe_cell(c) for c in record.get("slowest_cells", []))
                log(f"  ✓ {nb.stem} finished in {record['seconds']:.1f} s" + (f" (slowest: {slowest})" if slowest else ""))
                if key:
                    reuse.store(cache_dir, key, folder, reuse.written_since(folder, before),
                                {"run_id": run_id, "notebook": nb.stem, "seed": seed, "seconds": record["seconds"],
                                 "slowest_cells": record.get("slowest_cells", []), "code": code})
            else:
                failed = True
                log(f"  ✗ {nb.stem} FAILED after {record['seconds']:.1f} s in {record['error']} "
                    f"(log: {folder / 'logs' / (nb.stem + '.log')})")

        for seed in seeds:
            for nb in notebooks:
                if nb.stem not in STUDY_LEVEL:
                    run_one(nb, seed, run_root / (f"seed-{seed}" if multi else ""))
        for nb in notebooks:
            if nb.stem in STUDY_LEVEL:
                run_one(nb, seeds[0], run_root)
        state = "failed" if failed else "complete"
    except KeyboardInterrupt:
        state = "incomplete"
        done = {(r["notebook"], r["seed"]) for r in records}
        records.extend({"notebook": nb.stem, "seed": seed, "status": "not run", "seconds": None}
                       for seed in seeds for nb in notebooks
                       if (nb.stem, seed) not in done and (nb.stem not in STUDY_LEVEL or seed == seeds[0]))
        log(f"\nInterrupted: {run_root} is left marked INCOMPLETE; 'latest' was not moved. Finished cache "
            f"entries are kept and reused by the next run.")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        env_info.update(end_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), state=state,
                        wall_seconds={f"{r['notebook']}@{r.get('seed')}": r.get("seconds") for r in records})
        write_json_atomic(environment_path, env_info)
        save_status()
        if not job:
            write_summary(run_root, records, {"state": state, "profile": profile, "seeds": seeds,
                                              "device": str(device), "git_sha": env_info["git_sha"],
                                              "multi_seed": multi, "study_level": STUDY_LEVEL})
    print_table(records, log)
    if job:
        return _finish_job(run_root, notebooks[0].stem, state, log)
    from ..reporting.report import build_report

    try:
        report = build_report(run_root)
    except Exception as err:  # the notebooks' results stand; the report's failure is reported, not hidden
        log(f"\nReport FAILED: {type(err).__name__}: {err}")
        return 1
    log(f"Report: {report}")
    if state == "complete":
        (run_root / "INCOMPLETE").unlink()
        update_latest(out, run_root)
        log(f"\nRun complete: {run_root} (also {out / 'latest'})")
        return 0
    if state == "incomplete":
        return 130
    log(f"\nRun FAILED: {run_root} ('latest' not moved)")
    return 1


def _finish_job(run_root: Path, notebook: str, state: str, log) -> int:
    """A job's end: a study-level job writes its folder's summary.md (every job found there) and report."""
    if state == "complete" and notebook in STUDY_LEVEL:
        from ..reporting.report import build_report
        from ..study.run_records import job_records, run_environment

        env = run_environment(run_root)
        records = job_records(run_root)
        write_summary(run_root, records, {"state": env.get("state"), "profile": env.get("profile"),
                                          "seeds": env.get("seeds"), "device": env.get("device"),
                                          "git_sha": env.get("git_sha"),
                                          "multi_seed": any(p.is_dir() for p in run_root.glob("seed-*")),
                                          "study_level": STUDY_LEVEL})
        try:
            log(f"Report: {build_report(run_root)}")
        except Exception as err:  # as in a whole run: the notebook's results stand, the failure is reported
            log(f"\nReport FAILED: {type(err).__name__}: {err}")
            return 1
    if state == "complete":
        return 0
    return 130 if state == "incomplete" else 1


if __name__ == "__main__":
    sys.exit(main())
