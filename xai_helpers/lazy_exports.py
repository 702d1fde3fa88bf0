"""Package names imported from their modules when first used (PEP 562), so that importing a light module of a
package does not import the heavy ones its ``__init__`` re-exports: ``python -m xai_helpers.running.runner`` and the
workflow's jobs check their parameters without importing torch (about 1 s per process).

``from package import name`` and ``package.name`` work as with eager imports; a name is imported once and then
cached in the package."""
from __future__ import annotations

import importlib
import importlib.util
import sys


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]]):
    """``(__getattr__, __dir__, __all__)`` for ``package`` whose ``exports`` map a submodule (``".run_io"``) to the
    names it gives the package."""
    where = {name: module for module, names in exports.items() for name in names}
    # Importing a submodule binds its name in the package, so a name that is also a submodule's would turn into
    # that module the first time anything imports the submodule.
    shadowed = sorted(name for name in where if importlib.util.find_spec(f"{package}.{name}") is not None)
    if shadowed:
        raise ValueError(f"{package} exports {', '.join(shadowed)}, the name of a submodule too: rename one")

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__, sorted(where)
