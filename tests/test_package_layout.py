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
LAYERS = ("data", "study", "cnn", "concepts", "gan", "latent", "evaluation")
PLOTTING = re.compile(r"(plots|figures|rating_widgets)$")
MAX_LINES = 500


def _modules():
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def _dotted(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The xai_helpers modules ``path`` imports (relative imports resolved), at any depth of its code."""
    me = _dotted(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("xai_helpers"):
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("xai_helpers"))
    known = {_dotted(p) for p in _modules()}
    return {t for t in found if t in known}


def _layer(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_subpackage_states_its_part_in_a_docstring():
    subpackages = sorted(p.parent.name for p in PKG.glob("*/__init__.py"))
    assert subpackages == sorted(LAYERS)
    for name in subpackages:
        doc = ast.get_docstring(ast.parse((PKG / name / "__init__.py").read_text()))
        assert doc and len(doc) > 80, f"xai_helpers/{name}/__init__.py needs a docstring saying what the part does"


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long


def _upward_imports() -> list[str]:
    upward = []
    for path in _modules():
        mine = _layer(_dotted(path))
        for target in _imports(path):
            theirs = _layer(target)
            if mine and theirs and LAYERS.index(theirs) > LAYERS.index(mine):
                upward.append(f"{_dotted(path)} → {target}")
    return upward


def test_subpackages_depend_downwards_only():
    """No import cycle between parts: each imports only from parts below it in LAYERS (so no cycle is possible)."""
    assert not _upward_imports()


def test_no_import_cycle_between_modules():
    graph = {_dotted(p): {t for t in _imports(p) if not t.endswith("__init__")} for p in _modules()}
    packages = {_dotted(p) for p in PKG.rglob("__init__.py")}
    graph = {m: {t for t in targets if t not in packages} for m, targets in graph.items() if m not in packages}
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in graph.get(node, ()):
            if state.get(nxt) == "open":
                pytest.fail("import cycle: " + " → ".join(trail + [node, nxt]))
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = "done"

    for module in graph:
        if module not in state:
            visit(module, [])


def test_computing_modules_never_import_plotting():
    offenders = []
    for path in _modules():
        me = _dotted(path)
        if PLOTTING.search(me) or path.name == "__init__.py":
            continue
        plotting = {t for t in _imports(path) if PLOTTING.search(t)}
        source = path.read_text()
        if plotting or re.search(r"^\s*import matplotlib|^\s*from matplotlib", source, re.M):
            offenders.append(me)
    # run_io saves a figure it is given (it imports matplotlib lazily, only to close it): I/O, not plotting.
    assert set(offenders) <= {"xai_helpers.study.run_io"}, offenders


def test_an_upward_import_written_relative_is_caught():
    """A case built to fail: a data module that imports the classifier's training (relative, inside a function)."""
    probe = PKG / "data" / "_layout_probe.py"
    probe.write_text("def f():\n    from ..cnn.train import train_classifier\n")
    try:
        assert _upward_imports() == ["xai_helpers.data._layout_probe → xai_helpers.cnn.train"]
    finally:
        probe.unlink()


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_each_notebook_imports_from_at_most_five_subpackages(notebook):
    source = "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                       if c["cell_type"] == "code")
    used = set(re.findall(r"^\s*(?:from|import) xai_helpers\.(\w+)", source, re.M))
    assert used and used <= set(LAYERS) and len(used) <= 5, used
