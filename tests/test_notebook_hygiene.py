"""Conventions of the committed notebooks (docs/ARCHITECTURE.md, "Where to add": a notebook)."""
import ast
import json
from pathlib import Path

import nbformat
import papermill
import pytest

from xai_helpers.study.parameter_registry import CLASSIFIER_PARAMETERS, MODEL_PARAMETERS, PARAMETERS
from xai_helpers.study.parameters import ALLOWED, PIXEL_SIZES

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
STANDARD = tuple(p.name for p in PARAMETERS if p.group == "standard")  # what the runner sets for every notebook


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_is_the_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_is_typed_and_documented(path):
    params = papermill.inspect_notebook(str(path))
    assert params, "papermill found no parameters (check the parameters cell parses)"
    for name, p in params.items():
        assert p["inferred_type_name"] not in (None, "None"), f"{name} has no type annotation"
        assert p["help"].strip(), f"{name} has no comment"
    if path.stem != "06_evaluation":
        assert set(STANDARD) <= set(params)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_only_checked_cells_keep_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.outputs:
            assert "NBVAL_CHECK_OUTPUT" in cell.source, f"unchecked cell keeps outputs: {cell.source[:60]!r}"
        if cell.cell_type == "code" and "NBVAL_CHECK_OUTPUT" not in cell.source:
            assert cell.execution_count is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_explains_with_formulas(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert text.startswith("# ") and "$" in text


def test_only_shared_settings_are_declared_by_several_notebooks():
    """``-p NAME VALUE`` reaches every notebook that declares NAME, so one name must mean one thing: apart from
    the run-wide settings, a name belongs to one notebook (04's GAN learning rate is ``gan_lr``, not 01's ``lr``).
    The exceptions are the classifier's settings, which every notebook that uses 01's classifier declares, and the
    digit GAN's settings, which 05 and 06 declare so that they use the very GAN 04 trained."""
    shared = set(STANDARD) | {"data_dir", "test_dir", "image_size", "channels"} | set(CLASSIFIER_PARAMETERS)
    shared |= {"conditional", "gan_iterations", "gan_batch_size", "gan_lr", "gan_width", "gan_z_dim", "gan_snapshot_every"}
    # 07 explores the models and methods of 02, 03 and 05, so it declares their settings with the same meaning (its
    # shortcut model is 02's, its concept sets 03's, its shapes InfoGAN 05's); 06 and 07 both show forms when
    # ``interactive``.
    shared |= {"shortcut_class", "patch_size", "ig_steps", "lime_samples", "latent_samples", "interfacegan_samples",
               "shapes_gan_iterations", "shapes_z_dim", "info_codes", "info_weight", "cr_weight", "regressor_epochs",
               "set_size", "n_random_sets", "n_controls", "n_class_images", "interactive", "concepts_dir"}
    # The explained classifier (issue 18): every notebook that explains it declares the same model parameters.
    shared |= set(MODEL_PARAMETERS)
    owners = {}
    for path in NOTEBOOKS:
        for name in papermill.inspect_notebook(str(path)):
            owners.setdefault(name, []).append(path.stem)
    clashes = {name: nbs for name, nbs in owners.items() if len(nbs) > 1 and name not in shared}
    assert not clashes, f"parameters declared by several notebooks with possibly different meanings: {clashes}"


def test_shared_settings_have_one_type_and_default_everywhere():
    """A shared name must also default to the same value, or 05 would explain another GAN than 04 trained."""
    seen = {}
    for path in NOTEBOOKS:
        for name, p in papermill.inspect_notebook(str(path)).items():
            seen.setdefault(name, {})[path.stem] = (p["inferred_type_name"], p["default"])
    for name, by_notebook in seen.items():
        if name in ("dataset",):  # each notebook picks its own default data set
            continue
        assert len(set(by_notebook.values())) == 1, f"{name} differs between notebooks: {by_notebook}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_that_uses_the_classifier_declares_all_its_settings(path):
    """Otherwise ``-p epochs 3`` would reach 01 and not this notebook, which would then explain, probe or measure
    with another model than the one 01 reports (issue 14: 02-06 used to build theirs from the profile)."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    # the opening trains it with classifier_settings (tests/opening); so does the explorer's load_study_models
    opens_the_classifier = "open_notebook(" in code and "classifier=False" not in code
    loads_study_models = "load_study_models(data, config" in code
    if not (opens_the_classifier or loads_study_models):
        pytest.skip("uses no classifier")
    params = papermill.inspect_notebook(str(path))
    missing = [name for name in CLASSIFIER_PARAMETERS if name not in params]
    assert not missing, f"{path.stem} uses the classifier but does not declare {missing}"
    assert "classifier_settings(" not in code, "the classifier's settings come from the opening, not a second build"
    if opens_the_classifier:
        assert '"classifier_checkpoint"' in code, "its metrics must record the classifier's cache id"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_numeric_parameter_has_an_allowed_range(path):
    """The runner refuses out-of-range values before anything runs only for parameters that have an entry."""
    for name, p in papermill.inspect_notebook(str(path)).items():
        kind = p["inferred_type_name"]
        if any(t in kind for t in ("int", "float", "list")):
            assert name in ALLOWED, f"{path.stem}: numeric parameter {name} has no entry in parameters.ALLOWED"
            assert ALLOWED[name].admits(eval(p["default"])), f"{path.stem}: default of {name} is not allowed"
    assert set(PIXEL_SIZES) <= set(ALLOWED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_study_notebook_defines_no_function(path):
    """Notebooks assemble and explain: a function, lambda or class belongs in its part, with a test."""
    defined = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        code = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith(("%", "!")))
        defined += [f"{type(node).__name__} {getattr(node, 'name', '')}".strip() for node in ast.walk(ast.parse(code))
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))]
    assert not defined, defined


#: What a notebook did to begin before the opening was one call: now inside xai_helpers.opening.open_notebook.
OPENING_STEPS = {"start_session", "start_notebook", "classifier_settings", "study_classifier", "resolve_data_dir"}
#: Besides the opening, the first cell may set warning filters and constants, and start a clock.
ALLOWED_IN_OPENING = {"open_notebook", "globals", "filterwarnings", "perf_counter"}


def _calls(tree) -> list[str]:
    return [node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "?")
            for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _opening_problems(source: str) -> list[str]:
    """Why the cell ``source`` is not a notebook's opening: imports, warning filters, constants, one call."""
    calls = _calls(ast.parse(source))
    problems = [f"calls {name}" for name in calls if name not in ALLOWED_IN_OPENING]
    if calls.count("open_notebook") != 1:
        problems.append(f"calls open_notebook {calls.count('open_notebook')} times")
    return problems


def _code_cells(path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_opens_with_one_call(path):
    """The first code cell after the parameters checks them, starts the session, loads the data and the classifier
    in one call; nowhere else does the notebook repeat one of those steps."""
    cells = _code_cells(path)
    assert _opening_problems(cells[1]) == []
    repeated = [name for source in cells[2:] for name in _calls(ast.parse(source)) if name in OPENING_STEPS]
    assert not repeated, f"{path.stem} repeats opening steps: {repeated}"


def test_an_opening_of_several_calls_is_refused():
    old = ('config, spec, dev, run_path, cache_path = open_notebook(NOTEBOOK, globals())\n'
           'data = load_dataset(dataset, resolve_data_dir(data_dir))\n'
           'common = classifier_settings(config, seed=seed, device=dev, cache_dir=cache_path)\n')
    assert sorted(_opening_problems(old)) == ["calls classifier_settings", "calls load_dataset",
                                              "calls resolve_data_dir"]
    assert _opening_problems("import warnings\nNOTEBOOK = '01'\n") == ["calls open_notebook 0 times"]


def _needs_hooks(source: str) -> bool:
    """Whether the opening cell ``source`` asks for a model that takes hooks (``needs_hooks=True``)."""
    return any(isinstance(node, ast.Call) and any(k.arg == "needs_hooks" and getattr(k.value, "value", False)
                                                  for k in node.keywords)
               for node in ast.walk(ast.parse(source)))


def test_the_runner_refuses_torchscript_for_exactly_the_notebooks_whose_opening_needs_hooks():
    from xai_helpers.running.notebook_parameters import NEEDS_HOOKS

    opening_says = sorted(p.stem for p in NOTEBOOKS if _needs_hooks(_code_cells(p)[1]))
    assert opening_says == sorted(NEEDS_HOOKS)
    assert not _needs_hooks("open_notebook(NOTEBOOK, globals(), needs_hooks=False)")
    assert _needs_hooks("open_notebook(NOTEBOOK, globals(), needs_hooks=True)")


COMMITTED = NOTEBOOKS + sorted((Path(__file__).resolve().parents[1] / "course").glob("[0-9][0-9]_*/*.ipynb"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_every_cell_has_its_own_id(path):
    """nbformat 4.5 cells carry an id, unique in the notebook: nbformat only warns today when one is missing or
    repeated (and silently renumbers it, so each run's copy differs from git's); it will be a hard error. Read as
    raw JSON, since ``nbformat.read`` repairs both before a test could see them."""
    ids = [cell.get("id") for cell in json.loads(path.read_text())["cells"]]
    assert None not in ids, f"cells without an id at positions {[i for i, x in enumerate(ids) if x is None]}"
    assert len(set(ids)) == len(ids), f"repeated ids: {sorted({x for x in ids if ids.count(x) > 1})}"
