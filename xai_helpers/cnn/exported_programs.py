"""A ``torch.export`` program as a module the study can hook: TorchScript's successor, read without running code.

``torch.export.load`` gives an ``ExportedProgram``: one flat ATen graph, whose layers are gone. Its
``torch.export.unflatten`` gives the module tree back under the user's own names (``layer4.1.conv2``), each module
an ``InterpreterModule`` that runs its part of the graph. Hooks work on those, so Grad-CAM, the feature level, TCAV
and attenuation run as on the original model. What is lost is the layers' types, which other code reads:

- a leaf whose graph is one parameter-free activation or max pooling (``aten.relu``, ``aten.max_pool2d``, …) is
  given back as that ``nn`` module (the same function, checked on the user's images), so layer detection,
  per-call splitting and the rules of DeepLift and Guided Backprop see it as they see the original's;
- a convolution stays an ``InterpreterModule``: :func:`is_convolution` recognises it by its graph;
- the rest (batch norms, residual blocks) have no type: LRP's canonizers, which match module types, do not apply,
  and methods whose rules need every nonlinearity as a module are refused where one is a call inside a larger
  module's graph (:func:`functional_nonlinearities`).

Two more differences, stated where they matter: an exported graph records its batch norms in the mode they were
exported in (``.train()`` does not change them, so a fine-tuned copy keeps their running statistics), and it
takes only the input shapes it was exported for (:class:`InputShapes`), so a program exported for one batch size
is refused with the way to export it for any.
"""
from __future__ import annotations

import torch
from torch import nn

#: Parameter-free ops that an ``nn`` module computes, and that module built from the op's arguments after the input
#: (``args``) and its keyword arguments (``kwargs``).
_MODULES = {
    "relu": lambda args, kwargs: nn.ReLU(),
    "relu_": lambda args, kwargs: nn.ReLU(),
    "gelu": lambda args, kwargs: nn.GELU(approximate=kwargs.get("approximate", "none")),
    "silu": lambda args, kwargs: nn.SiLU(),
    "silu_": lambda args, kwargs: nn.SiLU(),
    "hardswish": lambda args, kwargs: nn.Hardswish(),
    "hardswish_": lambda args, kwargs: nn.Hardswish(),
    "hardsigmoid": lambda args, kwargs: nn.Hardsigmoid(),
    "hardsigmoid_": lambda args, kwargs: nn.Hardsigmoid(),
    "sigmoid": lambda args, kwargs: nn.Sigmoid(),
    "tanh": lambda args, kwargs: nn.Tanh(),
    "mish": lambda args, kwargs: nn.Mish(),
    "leaky_relu": lambda args, kwargs: nn.LeakyReLU(*args),
    "leaky_relu_": lambda args, kwargs: nn.LeakyReLU(*args),
    # aten: (kernel, stride = [] for the kernel's, padding, dilation, ceil_mode)
    "max_pool2d": lambda args, kwargs: nn.MaxPool2d(args[0], (list(args[1]) if len(args) > 1 else []) or None,
                                                    *args[2:4], ceil_mode=args[4] if len(args) > 4 else False),
}
#: Nonlinear ops whose gradient DeepLift, Guided Backprop and Deconvolution change through their modules.
NONLINEAR_OPS = frozenset(_MODULES) | {"elu", "selu", "softplus", "hardtanh", "prelu", "max_pool2d_with_indices"}


class ExportError(ValueError):
    """A file that is not a usable ``torch.export`` program; the message says what to do."""


def _op_name(target) -> str:
    """``aten.relu_.default`` → ``relu_``; other callables by their name."""
    name = getattr(target, "__name__", str(target))
    packet = getattr(target, "_overloadpacket", None)
    return getattr(packet, "__name__", name.split(".")[0])


def graph_ops(module: nn.Module) -> list[str]:
    """The ops (``relu``, ``conv2d``, …) an unflattened module's own graph calls; empty for any other module."""
    graph = getattr(module, "graph", None)
    if not isinstance(graph, torch.fx.Graph):
        return []
    return [_op_name(n.target) for n in graph.nodes if n.op == "call_function"]


def is_convolution(module: nn.Module) -> bool:
    """An ``nn.Conv2d``, or an unflattened module whose graph is one 2-D convolution."""
    return isinstance(module, nn.Conv2d) or graph_ops(module) in (["conv2d"], ["convolution"])


def load_exported(path: str) -> tuple[nn.Module, nn.Module]:
    """The program saved at ``path`` as (the model's module tree, unflattened, with its parameter-free layers given
    back their types and its input shapes checked by :class:`InputShapes`; the program's own flat module, to check
    the first against). Raises :class:`ExportError` when ``path`` is not a ``torch.export`` program of one input."""
    try:
        program = torch.export.load(path)
    except Exception as err:  # noqa: BLE001 - torch.export.load raises many kinds on a file that is not its own
        first = " ".join(str(err).split())[:300] or type(err).__name__
        raise ExportError(f"model_file {path}: not a torch.export program torch.export.load can read ({first}); "
                          "write it with torch.export.save(torch.export.export(model, (example,)), path)") from None
    module = torch.export.unflatten(program)
    shapes = InputShapes.of(module, path)
    _drop_trace_metadata(module)
    module.check_input_constraints = False  # it reads the metadata just dropped: InputShapes checks instead
    module.register_forward_pre_hook(shapes)
    _typed_layers(module)
    return module, program.module()


class InputShapes:
    """The input shape a program was exported for, checked before each forward pass: each dimension's size where
    it was exported static, any size where it was exported dynamic. torch's own check does this from the fake
    tensors the exporter left on the graph, which ``copy.deepcopy`` refuses, so they are dropped and this check,
    on plain numbers, takes its place (the bounds torch records for a dynamic dimension are not checked: it runs
    batches of 1 under ``Dim.AUTO``'s lower bound of 2)."""

    def __init__(self, sizes: tuple[int | None, ...], label: str):
        self.sizes, self.label = sizes, label

    @classmethod
    def of(cls, module: nn.Module, label: str) -> "InputShapes":
        inputs = [node.meta.get("val") for node in module.input_placeholders]
        if len(inputs) != 1 or not isinstance(inputs[0], torch.Tensor):
            raise ExportError(f"model_file {label}: the program takes {len(inputs)} inputs; an image classifier "
                              "takes one batch of images")
        return cls(tuple(d if isinstance(d, int) else None for d in inputs[0].shape), label)

    def __call__(self, module: nn.Module, args: tuple) -> None:
        shape = tuple(args[0].shape)
        wrong = [j for j, (want, got) in enumerate(zip(self.sizes, shape)) if want is not None and want != got]
        if len(shape) != len(self.sizes) or wrong:
            exported = tuple("any" if d is None else d for d in self.sizes)
            raise RuntimeError(f"{self.label} was exported for inputs of shape {exported} and got {shape}; export it "
                               "with dynamic_shapes for the dimensions that vary")


def check_same_function(module: nn.Module, flat: nn.Module, example: torch.Tensor, label: str,
                        tolerance: float = 1e-5) -> None:
    """Refuse the unflattened, typed module where it computes other outputs than the program on ``example``."""
    with torch.no_grad():
        a, b = module(example), flat(example)
    error = float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))
    if error > tolerance:
        raise ExportError(f"{label}: its unflattened modules compute other outputs than the program (relative "
                          f"difference {error:.2g} > {tolerance:g}); please report it with the file")


def _drop_trace_metadata(module: nn.Module) -> None:
    """Forget the fake tensors the exporter left on each graph node: ``copy.deepcopy``, with which the study copies
    a model to randomise or fine-tune it, refuses them, and running the graph never reads them."""
    for sub in module.modules():
        graph = getattr(sub, "graph", None)
        if isinstance(graph, torch.fx.Graph):
            for node in graph.nodes:
                node.meta.clear()


def _typed_layers(root: nn.Module) -> None:
    """Replace each leaf whose graph is exactly ``output = op(input, constants)``, for an op of :data:`_MODULES`,
    by that ``nn`` module: parameter-free, so the function is the same (checked by :func:`check_same_function`),
    and ``aten.relu_``'s in-place write becomes a new tensor, which hooks that keep a layer's output need."""
    for name, sub in list(root.named_modules()):
        ops = graph_ops(sub)
        if not name or len(ops) != 1 or ops[0] not in _MODULES or any(True for _ in sub.children()):
            continue
        call = next(n for n in sub.graph.nodes if n.op == "call_function")
        placeholders = [n for n in sub.graph.nodes if n.op == "placeholder"]
        constants = call.args[1:]
        if (len(placeholders) != 1 or call.args[:1] != (placeholders[0],)
                or any(isinstance(a, torch.fx.Node) for a in (*constants, *call.kwargs.values()))):
            continue  # a second tensor operand: not a module of its input alone
        parent_name, _, attr = name.rpartition(".")
        parent = root.get_submodule(parent_name) if parent_name else root
        setattr(parent, attr, _MODULES[ops[0]](constants, dict(call.kwargs)))


def functional_nonlinearities(root: nn.Module) -> list[str]:
    """Where an unflattened model computes a nonlinearity inside a module's graph rather than as a typed module
    (``layer1.0: relu``): DeepLift, Guided Backprop and Deconvolution change gradients through modules, so there
    they would silently pass the plain gradient."""
    return [f"{name or 'the top level'}: {op}" for name, sub in root.named_modules()
            for op in graph_ops(sub) if op in NONLINEAR_OPS]


def check_any_batch(module: nn.Module, label: str) -> None:
    """Refuse a program exported for one batch size: the study explains batches of every size."""
    shapes = next((h for h in module._forward_pre_hooks.values() if isinstance(h, InputShapes)), None)
    if shapes is not None and shapes.sizes and shapes.sizes[0] is not None:
        raise ExportError(f"{label} was exported for batches of {shapes.sizes[0]} image(s) only; export it for any "
                          "batch size: torch.export.export(model, (x,), dynamic_shapes={'x': {0: "
                          "torch.export.Dim.AUTO}}) with a batch x of 2 or more (the argument's name is your "
                          "forward's)")


def untyped_reason(model, rules: str | None) -> str | None:
    """Why a method whose rules are chosen by ``rules`` (:class:`~.attribution.Method`) cannot run on a torch.export
    program: its layers' types are lost; None where it can, and for every other model."""
    untyped = getattr(model, "untyped", None)
    if untyped is None or rules is None:
        return None
    if rules == "layers":
        return ("its rules are chosen by each layer's type, which a torch.export program's convolutions, linear "
                "layers and blocks lack (InterpreterModules)")
    if untyped:
        return (f"it changes the gradient of nonlinearity modules, and this torch.export program computes some in "
                f"a module's graph ({', '.join(untyped[:3])}{', ...' if len(untyped) > 3 else ''}), where the plain "
                "gradient would pass silently")
    return None
