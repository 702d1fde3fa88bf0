"""The version of a piece of code, as a cache key holds it: what the code does, not how its text is laid out.

Standard library only, so that the runner, which keys notebooks by the package's code, starts without torch."""
from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap


def runnable_source(source: str) -> str:
    """The code of Python ``source`` as it runs, for hashing: parsed and written back (``ast.unparse``), so comments,
    blank lines and layout are gone; docstrings are dropped; each run of consecutive import statements is sorted.

    A cache key that hashed the text retrained every model after a docstring or import-order edit (twice in one round
    of work); none of those changes what the code computes. The text ``ast.unparse`` writes can differ between Python
    versions, so one machine's keys are not guaranteed to match another Python's: a miss there retrains, never reuses
    the wrong entry."""
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
            node.body = _imports_sorted(node.body)
    return ast.unparse(tree)


def _imports_sorted(body: list[ast.stmt]) -> list[ast.stmt]:
    """Each run of consecutive imports sorted, unless a name is bound twice in it (then the order decides which
    binding wins, and the run keeps its order)."""
    out, run = [], []
    for stmt in body + [None]:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            run.append(stmt)
            continue
        bound = [alias.asname or alias.name.split(".")[0] for imp in run for alias in imp.names]
        out += sorted(run, key=ast.unparse) if len(bound) == len(set(bound)) else run
        run = []
        if stmt is not None:
            out.append(stmt)
    return out


def source_fingerprint(*objects) -> str:
    """SHA-256 (12 hex digits) of the code of modules, functions or classes as it runs (:func:`runnable_source`):
    the code version in a cache key."""
    h = hashlib.sha256()
    for obj in objects:
        h.update(runnable_source(inspect.getsource(obj)).encode())
    return h.hexdigest()[:12]
