"""Cache keys hash what code does, not its text (issue 32, item 7): a docstring, comment or import-order edit keeps
every key, a code edit changes it."""
import ast
import inspect

import torch

from xai_helpers.cnn import train as T
from xai_helpers.data.datasets import ImageDataset
from xai_helpers.study import code_version
from xai_helpers.study.code_version import runnable_source

TRAIN_SOURCE = inspect.getsource(T)


def _prose_edited(source: str) -> str:
    """``source`` with every docstring reworded, a comment added before each function, and its first two imports
    swapped: nothing the interpreter runs differs."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    for node in sorted(ast.walk(tree), key=lambda n: -getattr(n, "lineno", 0)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            doc = node.body[0]
            if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
                indent = " " * doc.col_offset
                lines[doc.lineno - 1: doc.end_lineno] = [f'{indent}"""Reworded: {node.name} does as before."""\n']
            lines.insert(node.lineno - 1 - len(node.decorator_list), "# a comment added by the test\n")
    edited = "".join(lines)
    imports = [n for n in ast.parse(edited).body if isinstance(n, (ast.Import, ast.ImportFrom))
               and getattr(n, "module", None) != "__future__"][:2]
    first, second = (ast.get_source_segment(edited, n) for n in imports)
    assert imports[1].lineno == imports[0].end_lineno + 1, "the test swaps two adjacent imports"
    return edited.replace(f"{first}\n{second}\n", f"{second}\n{first}\n", 1)


def _classifier_code(monkeypatch, train_source: str) -> str:
    """The ``code`` entry of the classifier's cache key, computed as ``classifier_config`` does, with cnn/train.py's
    text replaced by ``train_source``."""
    real = inspect.getsource
    monkeypatch.setattr(code_version.inspect, "getsource", lambda obj: train_source if obj is T else real(obj))
    data = ImageDataset("tiny", torch.zeros(4, 1, 8, 8), torch.arange(4) % 2, torch.zeros(2, 1, 8, 8),
                        torch.arange(2), ("a", "b"))
    config = T.classifier_config("plain", data, epochs=1, batch_size=2, lr=0.1, weight_decay=0.0, augment=False,
                                 seed=0, device=torch.device("cpu"))
    monkeypatch.setattr(code_version.inspect, "getsource", real)
    return config["code"]


def test_a_prose_edit_of_cnn_train_keeps_the_classifiers_cache_key(monkeypatch):
    edited = _prose_edited(TRAIN_SOURCE)
    assert edited != TRAIN_SOURCE and "Reworded" in edited and "a comment added by the test" in edited
    assert _classifier_code(monkeypatch, edited) == _classifier_code(monkeypatch, TRAIN_SOURCE)


def test_a_code_edit_of_cnn_train_changes_the_classifiers_cache_key(monkeypatch):
    """Built to fail: one constant of the training recipe changed."""
    assert 'RECIPE = "' in TRAIN_SOURCE
    edited = TRAIN_SOURCE.replace('RECIPE = "', 'RECIPE = "edited-', 1)
    assert _classifier_code(monkeypatch, edited) != _classifier_code(monkeypatch, TRAIN_SOURCE)


def test_runnable_source_drops_prose_and_keeps_code():
    base = runnable_source('"""Module."""\nimport os\nimport sys\n\ndef f(x):\n    """Doc."""\n    return x + 1  # why\n')
    assert base == runnable_source('import sys\nimport os\n# a comment\n\n\ndef f(x):\n    return (x + 1)\n')
    assert base != runnable_source("import os\nimport sys\n\ndef f(x):\n    return x + 2\n")
    # a string that is not the body's first statement is code, not a docstring
    assert runnable_source('def f():\n    x = 1\n    "kept"\n') != runnable_source("def f():\n    x = 1\n")
    # a body that was only a docstring still parses as a body
    assert runnable_source('class C:\n    """Doc."""\n') == "class C:\n    pass"


def test_swapping_imports_that_bind_the_same_name_is_a_code_change():
    """The second import wins: swapping them changes what runs, so the hash must change."""
    first = "from os.path import join as f\nfrom shlex import join as f\n"
    second = "from shlex import join as f\nfrom os.path import join as f\n"
    assert runnable_source(first) != runnable_source(second)
