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

import datetime as dt
import json
import os
import signal
import sys
import time
from pathlib import Path

from ..study import (DEFAULT_CACHE_DIR, REPO_ROOT, RUN_SUBDIRS, describe_cell, log_file, run_environment,
                     runner_identity, seed_folder, seed_folders, user_path, write_json_atomic)
from . import notebook_reuse as reuse
from .arguments import Plan, build_parser, check_arguments, typed_paths_made_absolute
from .job_graph import STUDY_LEVEL
from .notebook_parameters import DATA_FOLDERS, UsageError, notebook_parameters
from .notebook_process import run_notebook
from .run_summary import print_table, write_summary



def make_run_id(profile: str, seeds: list[int], out: Path) -> str:
    from ..study import git_sha

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


def mark_interrupted_runs(out: Path, log) -> list[Path]:
    """Earlier runs under ``out/runs`` still marked ``running`` whose runner has ended (killed with SIGKILL, or a
    crash: nothing could record it) are recorded as ``interrupted`` in their ``environment.json`` and
    ``status.json``, and named in the log; they keep their ``INCOMPLETE`` marker. Returns their folders."""
    marked = []
    for root in sorted(out.glob("runs/*/INCOMPLETE")):
        root = root.parent
        env_path, status_path = root / "environment.json", root / "status.json"
        if not env_path.is_file() or run_environment(root).get("state") != "interrupted":
            continue
        env = json.loads(env_path.read_text())
        write_json_atomic(env_path, {**env, "state": "interrupted"})
        if status_path.is_file():
            write_json_atomic(status_path, {**json.loads(status_path.read_text()), "state": "interrupted"})
        log(f"Earlier run {root.name} was interrupted: its runner (pid {env['runner']['pid']}) ended without "
            "finishing it; it stays marked INCOMPLETE")
        marked.append(root)
    return marked


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


def main(argv: list[str] | None = None, log=print) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.parameter = typed_paths_made_absolute(args.parameter)
    try:
        return _main(args, log)
    except UsageError as err:
        parser.print_usage(sys.stderr)
        print(f"run_all.sh: error: {err}", file=sys.stderr)
        return 2


class StudyRun:
    """One run of the runner: its folder, provenance and status, and each notebook run or reused into it.

    A whole run gets ``<out>/runs/<run_id>/`` with ``status.json``; a job (``--run-dir``) writes into the folder it is
    given and keeps its status and provenance in files of its own there (module docstring)."""

    def __init__(self, args, plan: Plan, log):
        self.args, self.plan, self.log = args, plan, log
        self.out = user_path(args.out)
        self.cache_dir = user_path(args.cache_dir) if args.cache_dir else DEFAULT_CACHE_DIR
        self.job = args.run_dir is not None
        self.multi = len(plan.seeds) > 1
        self.records: list[dict] = []
        self.state = "running"
        self.failed = False

    def open(self) -> None:
        """Create the run folder and its subfolders, and record the provenance."""
        plan, first = self.plan, self.plan.notebooks[0].stem
        if self.job:
            self.run_root = user_path(self.args.run_dir)
            self.run_root.mkdir(parents=True, exist_ok=True)
            self.run_id = f"{self.run_root.name} · {first}"
        else:
            mark_interrupted_runs(self.out, self.log)
            self.run_id = make_run_id(plan.profile, plan.seeds, self.out)  # creates the folder
            self.run_root = self.out / "runs" / self.run_id
        self._make_subfolders()
        # A job shares its folder with the other notebooks' jobs: its status and provenance are its own files.
        self.status_path = log_file(self.run_root, first, "status.json") if self.job else self.run_root / "status.json"
        self.environment_path = (log_file(self.run_root, first, "environment.json") if self.job
                                 else self.run_root / "environment.json")
        self._record_environment()
        self.code = reuse.code_digest()
        self.log(f"Study run {self.run_id}: profile {plan.profile}, seeds {plan.seeds}, device {self.device}, "
                 f"{len(plan.notebooks)} notebook(s) → {self.run_root}")

    def _make_subfolders(self) -> None:
        for seed in self.plan.seeds:
            for sub in RUN_SUBDIRS:
                (self.folder(seed) / sub).mkdir(parents=True, exist_ok=True)
        if self.multi and any(nb.stem in STUDY_LEVEL for nb in self.plan.notebooks):
            for sub in RUN_SUBDIRS:
                (self.run_root / sub).mkdir(parents=True, exist_ok=True)
        if not self.job:
            (self.run_root / "INCOMPLETE").write_text("This run has not finished (or was interrupted); see status.json.\n")

    def _record_environment(self) -> None:
        from ..study import provenance, resolve_device

        plan = self.plan
        self.device = resolve_device(self.args.device)
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        env = provenance(self.device, seeds=plan.seeds, profile=plan.profile, run_id=self.run_id, argv=sys.argv[1:],
                         start_utc=started, notebooks=[nb.stem for nb in plan.notebooks])
        # Measured in the runner, these two would describe this process, not the kernels that do the work:
        # each notebook calls seed_everything (deterministic algorithms on) in its own kernel. The kernels inherit
        # the runner's environment, so they run with the runner's torch threads unless --threads sets theirs.
        env.pop("deterministic", None)
        env["runner_torch_threads"] = self.args.threads or env.pop("torch_threads")
        env.pop("torch_threads", None)
        env["runner"] = runner_identity()  # a run left "running" by a runner that is gone was killed
        self.env_info = env
        write_json_atomic(self.environment_path, env)

    def folder(self, seed: int) -> Path:
        """Where a per-seed notebook of ``seed`` writes: ``seed-N/`` in a multi-seed run, else the run folder."""
        return seed_folder(self.run_root, seed) if self.multi else self.run_root

    def save_status(self) -> None:
        write_json_atomic(self.status_path, {"state": self.state, "run_id": self.run_id, "notebooks": self.records})

    def run_all(self) -> None:
        """Every seed's notebooks, then the study-level ones. A closed terminal (SIGHUP) or a kill (SIGTERM) ends the
        run like Ctrl-C: marked incomplete, children stopped."""
        def on_sigterm(signum, frame):
            raise KeyboardInterrupt

        previous = {sig: signal.signal(sig, on_sigterm) for sig in (signal.SIGTERM, signal.SIGHUP)}
        notebooks, seeds = self.plan.notebooks, self.plan.seeds
        try:
            self.save_status()
            for seed in seeds:
                for nb in notebooks:
                    if nb.stem not in STUDY_LEVEL:
                        self.run_one(nb, seed, self.folder(seed))
            for nb in notebooks:
                if nb.stem in STUDY_LEVEL:
                    self.run_one(nb, seeds[0], self.run_root)
            self.state = "failed" if self.failed else "complete"
        except KeyboardInterrupt:
            self._interrupted()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._close()

    def _interrupted(self) -> None:
        self.state = "incomplete"
        seeds = self.plan.seeds
        done = {(r["notebook"], r["seed"]) for r in self.records}
        self.records.extend({"notebook": nb.stem, "seed": seed, "status": "not run", "seconds": None}
                            for seed in seeds for nb in self.plan.notebooks
                            if (nb.stem, seed) not in done and (nb.stem not in STUDY_LEVEL or seed == seeds[0]))
        self.log(f"\nInterrupted: {self.run_root} is left marked INCOMPLETE; 'latest' was not moved. Finished cache "
                 f"entries are kept and reused by the next run.")

    def _close(self) -> None:
        self.env_info.update(end_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), state=self.state,
                             wall_seconds={f"{r['notebook']}@{r.get('seed')}": r.get("seconds") for r in self.records})
        write_json_atomic(self.environment_path, self.env_info)
        self.save_status()
        if not self.job:
            write_summary(self.run_root, self.records,
                          {"state": self.state, "profile": self.plan.profile, "seeds": self.plan.seeds,
                           "device": str(self.device), "git_sha": self.env_info["git_sha"], "multi_seed": self.multi,
                           "study_level": STUDY_LEVEL})

    def run_one(self, nb: Path, seed: int, folder: Path) -> None:
        """Run notebook ``nb`` for ``seed`` into ``folder``, or reuse what a run with the same inputs computed."""
        if self.failed and not self.args.keep_going:
            self.records.append({"notebook": nb.stem, "seed": seed, "status": "skipped", "seconds": None})
            return
        params = notebook_parameters(self.plan.declared[nb.stem], self._options(seed, folder), self.plan.extra)
        key = None if self.job else reuse.notebook_key(
            nb, params, cache_dir=self.cache_dir, threads=self.args.threads, device=str(self.device),
            study_level=nb.stem in STUDY_LEVEL, run_root=self.run_root, code=self.code)
        # --rerun runs the notebook and stores what it wrote, replacing what an earlier run left there
        entry = reuse.lookup(self.cache_dir, key) if key and not self.args.rerun else None
        record = {"notebook": nb.stem, "seed": seed, "status": "running", "seconds": None}
        self.records.append(record)
        if entry is not None:
            self._reuse(nb, seed, key, entry, folder, record, params)
        else:
            self._execute(nb, seed, key, folder, record, params)

    def _options(self, seed: int, folder: Path) -> dict:
        """The standard parameters a notebook gets from the runner's options."""
        args = self.args
        options = {"profile": self.plan.profile, "device": args.device, "seed": seed, "run_dir": str(folder),
                   "cache_dir": str(self.cache_dir)}
        if args.dataset is not None:
            options["dataset"] = args.dataset
        for name in DATA_FOLDERS:  # relative: to where the user is
            if getattr(args, name) is not None:
                options[name] = str(user_path(getattr(args, name)))
        return options

    def _reuse(self, nb: Path, seed: int, key: str, entry: dict, folder: Path, record: dict, params: dict) -> None:
        t0 = time.perf_counter()
        reuse.restore(self.cache_dir, key, entry, folder)
        record.update(status="ok", seconds=time.perf_counter() - t0, parameters=params,
                      reused_from=entry["run_id"], computed_seconds=entry["seconds"],
                      slowest_cells=entry.get("slowest_cells", []))
        self.save_status()
        self.log(f"↺ {nb.stem} (seed {seed}): reused from run {entry['run_id']}, which computed it in "
                 f"{entry['seconds']:.1f} s from the same inputs (--rerun runs it again)")

    def _execute(self, nb: Path, seed: int, key: str | None, folder: Path, record: dict, params: dict) -> None:
        self.log(f"▶ {nb.stem} (seed {seed}) …")
        self.save_status()
        before = reuse.snapshot(folder) if key else None
        run_notebook(nb, folder, params, self.args.timeout, self.log, record, threads=self.args.threads)
        self.save_status()
        if record["status"] != "ok":
            self.failed = True
            self.log(f"  ✗ {nb.stem} FAILED after {record['seconds']:.1f} s in {record['error']} "
                     f"(log: {log_file(folder, nb.stem)})")
            return
        slowest = "; ".join(describe_cell(c) for c in record.get("slowest_cells", []))
        memory = f", peak memory {record['peak_memory_mb']:.0f} MB" if record.get("peak_memory_mb") else ""
        self.log(f"  ✓ {nb.stem} finished in {record['seconds']:.1f} s{memory}"
                 + (f" (slowest: {slowest})" if slowest else ""))
        if key:
            reuse.store(self.cache_dir, key, folder, reuse.written_since(folder, before),
                        {"run_id": self.run_id, "notebook": nb.stem, "seed": seed, "seconds": record["seconds"],
                         "slowest_cells": record.get("slowest_cells", []), "code": self.code})


def _main(args, log) -> int:
    plan = check_arguments(args)
    run = StudyRun(args, plan, log)
    run.open()
    run.run_all()
    print_table(run.records, log)
    if run.job:
        return _finish_job(run.run_root, plan.notebooks[0].stem, run.state, log)
    return _finish_run(run, log)


def _finish_run(run: StudyRun, log) -> int:
    """A whole run's end: its report, and ``latest`` moved to it when every notebook succeeded."""
    from ..reporting import build_report

    try:
        report = build_report(run.run_root)
    except Exception as err:  # the notebooks' results stand; the report's failure is reported, not hidden
        log(f"\nReport FAILED: {type(err).__name__}: {err}")
        return 1
    log(f"Report: {report}")
    if run.state == "complete":
        (run.run_root / "INCOMPLETE").unlink()
        update_latest(run.out, run.run_root)
        log(f"\nRun complete: {run.run_root} (also {run.out / 'latest'})")
        return 0
    if run.state == "incomplete":
        return 130
    log(f"\nRun FAILED: {run.run_root} ('latest' not moved)")
    return 1


def _finish_job(run_root: Path, notebook: str, state: str, log) -> int:
    """A job's end: a study-level job writes its folder's summary.md (every job found there) and report."""
    if state == "complete" and notebook in STUDY_LEVEL:
        from ..reporting import build_report
        from ..study import job_records, run_environment

        env = run_environment(run_root)
        records = job_records(run_root)
        write_summary(run_root, records, {"state": env.get("state"), "profile": env.get("profile"),
                                          "seeds": env.get("seeds"), "device": env.get("device"),
                                          "git_sha": env.get("git_sha"),
                                          "multi_seed": bool(seed_folders(run_root)),
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
