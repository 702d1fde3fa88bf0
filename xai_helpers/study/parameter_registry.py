"""Every notebook parameter, defined once (the table ``notebook_parameters.toml`` beside this module): its name, the
type its parameters cell declares, its default there, the help text after it, which notebooks declare it and to which
group it belongs. Each notebook's first code cell (tagged ``parameters``) is written from this table by
``tools/write_parameter_cells.py``, and a test fails when a cell and the table differ, so a default or a help text
changes here and nowhere else.

What a parameter may take is :data:`~.parameters.ALLOWED` (ranges, also of the profile knobs that are no notebook
parameter), and what ``None`` stands for is the profile's value (:data:`~.config.PROFILES`): :meth:`Parameter.allowed`
and :meth:`Parameter.profile_value` read them, so this table does not restate them."""
from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .parameters import ALLOWED, Allowed

#: The study's notebooks, in order.
NOTEBOOKS = ("01_cnn_training", "02_cnn_attribution", "03_tcav", "04_gan_dynamics", "05_gan_latent", "06_evaluation",
             "07_explorer")
ALL = NOTEBOOKS


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # as the cell annotates it: str, int, float, bool, list, or "Optional[int]" (None: the profile's value)
    default: Any
    help: str
    notebooks: tuple[str, ...] = ALL
    #: "standard" (what the runner sets for every notebook), "model" (the classifier explained), "classifier" (01's
    #: training settings, declared by every notebook that uses 01's classifier) or "" (the notebook's own).
    group: str = ""
    help_in: dict[str, str] = field(default_factory=dict)  # where one notebook says it in its own words
    #: The profile knob this parameter overrides where its name differs from the knob's (03's ``set_size`` sets
    #: ``tcav_set_size``); see :meth:`profile_knob`.
    knob: str = ""
    #: A file or folder: the runner makes a relative one absolute from where the user is (run_io.user_path).
    path: bool = False

    def profile_knob(self) -> str:
        """The profile knob that this parameter overrides (None in the cell: the profile's value), or "" when it is no
        knob (its None then means something of its own, e.g. 'class 3')."""
        from .config import PROFILES

        name = self.knob or self.name
        return name if any(name in knobs for knobs in PROFILES.values()) else ""

    def allowed(self) -> Allowed | None:
        return ALLOWED.get(self.name)

    def profile_value(self, profile: str) -> Any:
        """What the notebook uses under ``profile`` when the cell's default is None."""
        from .config import PROFILES

        knob = self.profile_knob()
        return PROFILES[profile][knob] if knob else self.default

    def line(self, notebook: str) -> str:
        """This parameter's line in ``notebook``'s parameters cell."""
        default = json.dumps(self.default, ensure_ascii=False) if isinstance(self.default, str) else repr(self.default)
        return f"{self.name}: {self.type} = {default}  # {self.help_in.get(notebook, self.help)}"


#: Where the table lives: a data file, one entry per parameter, in the order the cells list them.
TABLE = Path(__file__).with_name("notebook_parameters.toml")


def _load(path: Path = TABLE) -> tuple[Parameter, ...]:
    """The registry's entries from its TOML table (a default that is omitted there is None)."""
    entries = tomllib.loads(path.read_text())["parameter"]
    return tuple(Parameter(**{"default": None, **{k: tuple(v) if k == "notebooks" else v for k, v in entry.items()}})
                 for entry in entries)


PARAMETERS: tuple[Parameter, ...] = _load()
BY_NAME = {p.name: p for p in PARAMETERS}
#: A supplied classifier's parameters and their defaults (the study's own CNN).
MODEL_PARAMETERS = {p.name: p.default for p in PARAMETERS if p.group == "model"}
#: 01's training settings (the classifier and the data subset it is trained and tested on). Every notebook that uses
#: 01's classifier declares all of them, so ``-p epochs 5`` reaches each one, and each explains, probes and measures
#: the very model 01 reports (one cache entry).
CLASSIFIER_PARAMETERS = tuple(p.name for p in PARAMETERS if p.group == "classifier")


def table_problems() -> list[str]:
    """What is wrong with the table as the notebooks would read it: a profile knob whose cell default is not None (the
    cell's value would silently replace the profile's), a knob some profile lacks, an explicit ``knob`` that names no
    knob, a notebook or group that does not exist."""
    from .config import PROFILES

    problems = []
    for p in PARAMETERS:
        knob = p.profile_knob()
        if p.knob and not knob:
            problems.append(f"{p.name}: knob {p.knob!r} is no profile knob")
        if knob and p.default is not None:
            problems.append(f"{p.name}: overrides profile knob {knob!r}, so its default must be None, not {p.default!r}")
        if knob and not all(knob in knobs for knobs in PROFILES.values()):
            problems.append(f"{p.name}: knob {knob!r} is missing from some profile")
        problems += [f"{p.name}: unknown notebook {nb!r}" for nb in p.notebooks if nb not in NOTEBOOKS]
        if p.group not in ("", "standard", "model", "classifier"):
            problems.append(f"{p.name}: unknown group {p.group!r}")
    return problems


def parameters_cell(notebook: str) -> str:
    """The text of ``notebook``'s parameters cell, as the table says."""
    if notebook not in NOTEBOOKS:
        raise ValueError(f"notebook {notebook!r} is not one of the study's: {', '.join(NOTEBOOKS)}")
    return "\n".join(p.line(notebook) for p in PARAMETERS if notebook in p.notebooks)
