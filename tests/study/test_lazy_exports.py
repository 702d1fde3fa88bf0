"""Names a package exports lazily (xai_helpers.lazy_exports)."""
import sys

import pytest

from xai_helpers.lazy_exports import lazy_exports


@pytest.fixture
def package(tmp_path, monkeypatch):
    root = tmp_path / "lazy_pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "timings.py").write_text("def timings():\n    return 'function'\n\ndef rows():\n    return 'rows'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "lazy_pkg"
    for name in [n for n in sys.modules if n.startswith("lazy_pkg")]:
        del sys.modules[name]


def test_a_name_is_imported_when_first_used(package):
    __import__(package)
    getattr_, _, names = lazy_exports(package, {".timings": ("rows",)})
    assert names == ["rows"] and f"{package}.timings" not in sys.modules
    assert getattr_("rows")() == "rows" and f"{package}.timings" in sys.modules


def test_a_name_that_is_also_a_submodules_is_refused(package):
    """``cell_timings`` was both: once the module was imported, ``from ..study import cell_timings`` gave the module."""
    __import__(package)
    with pytest.raises(ValueError, match="exports timings, the name of a submodule too"):
        lazy_exports(package, {".timings": ("rows", "timings")})
