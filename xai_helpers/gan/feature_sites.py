"""Where a classifier's features are read: a module's output (``"<module>"``) or its input (``"<module>:input"``, the
pooled features that go into a single-Linear head). A module of its own, so that the torch-fidelity extractor
(:mod:`.fidelity_extractor`) and :mod:`.fidelity` share it without importing each other."""
from __future__ import annotations

from torch import nn

#: A feature site ``"<module>:input"`` reads what goes into the module (a plain ``"<module>"``: what comes out).
INPUT_SUFFIX = ":input"


def feature_module(model: nn.Module, hidden_layer: str) -> tuple[nn.Module, bool]:
    """The module a feature site names and whether its input (True) or its output is read."""
    name = hidden_layer.removesuffix(INPUT_SUFFIX)
    modules = dict(model.named_modules())
    if name not in modules:
        raise ValueError(f"hidden_layer {hidden_layer!r} is not a module of {type(model).__name__} (or "
                         f"'<module>{INPUT_SUFFIX}')")
    return modules[name], hidden_layer.endswith(INPUT_SUFFIX)


def capture_features(model: nn.Module, hidden_layer: str, store: list):
    """Append the features at ``hidden_layer`` of every forward pass to ``store``; returns the hook's handle."""
    module, reads_input = feature_module(model, hidden_layer)
    if reads_input:
        return module.register_forward_pre_hook(lambda m, args: store.append(args[0]))
    return module.register_forward_hook(lambda m, args, out: store.append(out))
