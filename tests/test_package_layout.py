"""The package's layout (issue 15): subpackages per part of the study, dependencies pointing one way, small
modules, computing apart from plotting, and notebooks that import from a few places."""
import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "xai_helpers"
#: Bottom to top: a subpackage may import only from those before it.
LAYERS = ("study", "data", "cnn", "concepts", "gan", "latent", "evaluation", "explorer", "opening", "course",
          "reporting", "running")
#: The roof: what runs the whole study and reports on it. No notebook imports it; like a notebook, it may call
#: plotting (the report draws its figures).
ROOF = ("reporting", "running")
PLOTTING = re.compile(r"(figures|widgets)$")  # widgets: ipywidgets apps, which draw
MAX_LINES = 400
MAX_FUNCTION_LINES = 80


def _sources() -> dict[str, tuple[str, bool]]:
    """Every module of the package: dotted name → (source, is a package's ``__init__``)."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path.read_text(), is_package)
    return out


def _imports(me: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """The package modules that ``me`` imports, at any depth of its code. ``from X import name`` is an edge to the
    module ``X.name`` when there is one (a submodule import), else to ``X`` (an attribute of X, so its code runs)."""
    package = me if is_package else me.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found & known


def _graph(sources) -> dict[str, set[str]]:
    known = set(sources)
    return {me: _imports(me, src, is_package, known) for me, (src, is_package) in sources.items()}


def _layer(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def _upward_imports(sources) -> list[str]:
    upward = []
    for me, targets in _graph(sources).items():
        mine = _layer(me)
        for target in sorted(targets):
            theirs = _layer(target)
            if mine and theirs and LAYERS.index(theirs) > LAYERS.index(mine):
                upward.append(f"{me} → {target}")
    return upward


def _cycle(sources) -> list[str] | None:
    graph, state = _graph(sources), {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return trail + [node, nxt]
            if nxt not in state and (found := visit(nxt, trail + [node])):
                return found
        state[node] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module, [])):
            return found
    return None


def test_every_subpackage_states_its_part_in_a_docstring():
    subpackages = sorted(p.parent.name for p in PKG.glob("*/__init__.py"))
    assert subpackages == sorted(LAYERS)
    for name in subpackages:
        doc = ast.get_docstring(ast.parse((PKG / name / "__init__.py").read_text()))
        assert doc and len(doc) > 80, f"xai_helpers/{name}/__init__.py needs a docstring saying what the part does"


def test_no_module_is_over_400_lines():
    long = {name: n for name, (src, _) in _sources().items() if (n := len(src.splitlines())) > MAX_LINES}
    assert not long


def _long_functions(sources) -> dict[str, int]:
    """Functions and methods over MAX_FUNCTION_LINES lines (docstring included), by ``module:name``."""
    out = {}
    for module, (source, _) in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    out[f"{module}:{node.name}"] = n
    return out


def test_no_function_is_over_80_lines():
    """A long function is a list of steps without names: each step becomes a function that says what it does."""
    assert not _long_functions(_sources())


def test_a_long_function_is_caught():
    sources = {"xai_helpers.data._probe": ("def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES, False)}
    assert _long_functions(sources) == {"xai_helpers.data._probe:f": MAX_FUNCTION_LINES + 1}


def test_subpackages_depend_downwards_only():
    """Each part imports only from parts below it in LAYERS (so no cycle between parts is possible)."""
    assert not _upward_imports(_sources())


def test_no_import_cycle_between_modules_or_through_a_package():
    assert _cycle(_sources()) is None


def test_computing_modules_and_package_exports_never_import_plotting():
    offenders = []
    for me, (source, is_package) in _sources().items():
        if PLOTTING.search(me) or _layer(me) in ROOF:
            continue
        plotting = {t for t in _imports(me, source, is_package, set(_sources())) if PLOTTING.search(t)}
        if plotting or re.search(r"^\s*(import|from) matplotlib", source, re.M):
            offenders.append(me)
    # run_io saves a figure it is given (it imports matplotlib lazily, only to close it): I/O, not plotting.
    assert set(offenders) <= {"xai_helpers.study.run_io"}, offenders


def test_cases_built_to_fail_are_caught():
    """An upward import written relative inside a function, and a cycle through a package's ``__init__`` (a model
    module that takes a name from its own package, whose ``__init__`` imports the training that imports models)."""
    sources = dict(_sources())
    sources["xai_helpers.data._probe"] = ("def f():\n    from ..cnn.train import train_classifier\n", False)
    assert _upward_imports(sources) == ["xai_helpers.data._probe → xai_helpers.cnn.train"]
    source, is_package = sources["xai_helpers.cnn.models"]
    sources["xai_helpers.cnn.models"] = (source + "\nfrom . import train_classifier\n", is_package)
    cycle = _cycle(sources)
    assert cycle and "xai_helpers.cnn" in cycle and "xai_helpers.cnn.models" in cycle


def _notebook_imports(notebook: Path) -> set[str]:
    """The xai_helpers subpackages a notebook's code cells import (IPython magics and shell lines left out)."""
    used = set()
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        code = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("xai_helpers"):
                parts = node.module.split(".")
                used.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
            elif isinstance(node, ast.Import):
                used.update(a.name.split(".")[1] for a in node.names if a.name.startswith("xai_helpers."))
    return used


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_each_notebook_imports_from_at_most_five_subpackages(notebook):
    """Beside ``opening``, whose one call every notebook begins with."""
    used = _notebook_imports(notebook)
    assert "opening" in used and used <= set(LAYERS) - set(ROOF) and len(used - {"opening"}) <= 5, used


def test_the_notebook_import_reader_sees_every_form(tmp_path):
    cell = ("%matplotlib inline\nfrom xai_helpers import cnn, gan\nimport xai_helpers.latent.figures\n"
            "from xai_helpers.data import x\n")
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": cell}]}))
    assert _notebook_imports(path) == {"cnn", "gan", "latent", "data"}


def test_the_architecture_page_names_every_floor_and_only_paths_that_exist():
    """docs/ARCHITECTURE.md is the newcomer's map: every subpackage of LAYERS is on it, and each module path it cites
    (``part/module.py``, relative to xai_helpers/ or the repository) exists, so a move that forgets the page fails."""
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    missing = [name for name in LAYERS if f"| `{name}` |" not in page]
    assert not missing, missing
    cited = set(re.findall(r"`(\w+/[\w/]+\.(?:py|ipynb|md|txt))`", page))
    gone = sorted(c for c in cited if "NN_" not in c and not (PKG / c).exists() and not (ROOT / c).exists())
    assert cited and not gone, gone


def _layout_spellings(sources) -> list[str]:
    """Code (not docstrings) that spells the run folder's layout: a path string that starts with ``seed-``,
    ``metrics/`` or ``logs/``, or a path joined with ``/ "metrics"`` or ``/ "logs"`` (prose in a message is not a
    path)."""
    spelled = re.compile(r"^(seed-|metrics/|logs/)")
    found = []
    for module, (source, _) in sources.items():
        if module == "xai_helpers.study.run_layout":
            continue
        tree = ast.parse(source)
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                found += [f"{module}:{side.lineno} / {side.value!r}" for side in (node.left, node.right)
                          if isinstance(side, ast.Constant) and side.value in ("metrics", "logs")]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                    and spelled.search(node.value) and len(node.value) < 60:
                found.append(f"{module}:{node.lineno} {node.value!r}")
    return found


def test_the_run_folder_layout_is_spelled_in_one_module():
    """seed-N/, metrics/ and logs/ are named by study/run_layout.py's functions, which the Snakefile calls too."""
    assert not _layout_spellings(_sources())
    snakefile = (ROOT / "workflow" / "Snakefile").read_text()
    code = "\n".join(line for line in snakefile.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"seed-|/metrics/|/logs/", code)


def test_a_layout_spelled_outside_its_module_is_caught():
    sources = {"xai_helpers.running._probe": ('"""Reads seed-0/metrics/x.json."""\npath = run / "metrics" / name\n',
                                              False)}
    assert _layout_spellings(sources) == ["xai_helpers.running._probe:2 / 'metrics'"]
    sources = {"xai_helpers.running._probe": ('first = f"seed-{seed}"\n', False)}
    assert _layout_spellings(sources) == ["xai_helpers.running._probe:1 'seed-'"]


def _reaches_into(node: ast.ImportFrom, me: str | None) -> str | None:
    """``part.module`` when ``node`` (in part ``me``, or a notebook when None) imports from another part's module
    instead of the part itself; a plotting module is reached directly (a part's ``__init__`` never imports it)."""
    if node.level == 0 and (node.module or "").startswith("xai_helpers."):
        path = node.module.split(".")[1:]
    elif node.level == 2 and me is not None and node.module:
        path = node.module.split(".")
    else:
        return None
    if len(path) >= 2 and path[0] in LAYERS and path[0] != me and not PLOTTING.search(path[-1]):
        return ".".join(path)
    return None


def _reaching_imports(source: str, me: str | None) -> list[str]:
    return [f"{node.lineno}: {target}" for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
            for target in [_reaches_into(node, me)] if target]


def test_names_used_from_outside_a_part_go_through_its_init():
    """A part's ``__init__`` is its public face: another part or a notebook imports ``from ..cnn import x``, never
    from ``cnn.train``, so a part can rearrange its modules without breaking its users."""
    found = []
    for me, (source, _) in _sources().items():
        part = _layer(me)  # a part's __init__ too: it re-exports another part's name through that part's __init__
        if part:
            found += [f"{me}:{hit}" for hit in _reaching_imports(source, part)]
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "code":
                code = "\n".join(line for line in "".join(cell["source"]).splitlines()
                                 if not line.lstrip().startswith(("%", "!")))
                found += [f"{notebook.stem}:{hit}" for hit in _reaching_imports(code, None)]
    assert not found, found


def test_the_init_rule_sees_a_reach_into_a_module_and_lets_plotting_and_own_modules_pass():
    source = ("from ..cnn.train import train_classifier\nfrom ..cnn import explain\nfrom ..gan.figures import grid\n"
              "from .train import x\nfrom xai_helpers.data.planting import plant\n")
    assert _reaching_imports(source, "latent") == ["1: cnn.train", "5: data.planting"]
    assert _reaching_imports("from ..cnn.train import x\n", "cnn") == []
