"""What a run of the study asks for, checked before anything runs: the runner's options (``run_all.sh --help``), the
notebooks they select, and every parameter's name, type and range against what those notebooks declare. A refusal
is a :class:`~.notebook_parameters.UsageError` naming the bad value and what is allowed; nothing is written before it."""
from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path

from ..data import DATASETS
from ..study import PARAMETERS, PROFILES, REPO_ROOT, profile_name, user_path
from .notebook_parameters import DATA_FOLDERS, UsageError, check_ranges, validate_parameters

DEVICES = ("auto", "cpu", "cuda")

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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_all.sh", description="Run the XAI study notebooks headless with papermill.",
        epilog="Any other notebook parameter: -p NAME VALUE (see `.venv/bin/papermill --help-notebook notebooks/NB.ipynb`).")
    p.add_argument("--profile", choices=list(PROFILES), default=None,
                   help="scale of the study (default: $XAI_PROFILE, else quick)")
    p.add_argument("--dataset", choices=list(DATASETS), default=None, help="data set (default: each notebook's)")
    p.add_argument("--data-dir", default=None, help="folder with torchvision/imagefolder data (default: data/)")
    p.add_argument("--test-dir", default=None, help="imagefolder: a folder of test images with data-dir's classes "
                   "(default: 20%% of data-dir per class; give it when your model was trained on data-dir)")
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
    try:  # every item a number: "0,,1" or "0,1," is a typo, not the seeds 0 and 1
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise UsageError(f"--seeds {args.seeds!r}: expected comma-separated non-negative integers, e.g. 0,1,2 "
                         "(no empty item)") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise UsageError(f"--seeds {args.seeds!r}: expected distinct non-negative integers, e.g. 0,1,2")
    return seeds


# Native Windows is refused rather than half-run: the runner stops papermill's process group (os.killpg), treats a
# closed terminal (SIGHUP) like Ctrl-C and points runs/latest with a symlink, none of which Windows has as POSIX does,
# and none of it was run there. WSL 2 is Linux, where all of it was.
NATIVE_WINDOWS = ("native Windows is not supported: run the study in WSL 2 (Linux), where ./run_all.sh works as on "
                  "Linux (README, 'Set up')")


@dataclass
class Plan:
    """What the arguments ask for, checked: nothing of it has touched the disk yet."""
    profile: str
    seeds: list[int]
    notebooks: list[Path]
    declared: dict[str, dict]  # notebook → the parameters its parameters cell declares (papermill)
    extra: dict[str, str]  # -p NAME VALUE


#: ``-p`` names whose value is a file or folder (the registry's ``path``).
PATH_PARAMETERS = frozenset(p.name for p in PARAMETERS if p.path)


def typed_paths_made_absolute(parameters: list) -> list[tuple[str, str]]:
    """``-p NAME VALUE`` pairs with each relative file or folder made absolute from where the user is
    (:func:`~xai_helpers.study.run_io.user_path`): run_all.sh changes to the repository, and the notebooks run in
    notebooks/. A model_file of the form module:factory names a module, not a file, and is left as it is."""
    out = []
    for name, value in parameters:
        factory = name == "model_file" and ":" in value and not user_path(value).exists()
        out.append((name, str(user_path(value)) if name in PATH_PARAMETERS and value and not factory else value))
    return out


def check_arguments(args) -> Plan:
    """Every refusal the runner makes, before anything runs or is written (:class:`UsageError`)."""
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
    for name in ("dataset", *DATA_FOLDERS):
        option = "--" + name.replace("_", "-")
        if getattr(args, name) is not None and not any(name in params for params in declared.values()):
            raise UsageError(f"{option}: none of the selected notebooks ({', '.join(declared)}) takes a {name}")
    standard = {"profile": profile, "device": args.device, "seed": seeds[0]}
    standard.update({name: getattr(args, name) for name in ("dataset", *DATA_FOLDERS)
                     if getattr(args, name) is not None})
    check_ranges(declared, standard, extra, profile)
    return Plan(profile, seeds, notebooks, declared, extra)
