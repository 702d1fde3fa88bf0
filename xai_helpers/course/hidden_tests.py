"""What the course's tests use to grade the method a question asks for, and each mistake once.

- :func:`own_work`: within the block, the library implementations of the asked method (captum's, the study's)
  raise when the student's code calls them, however it imported them. A question that asks for Integrated
  Gradients by the midpoint rule is not answered by one call of captum's; the tests themselves still call them
  (outside the block, or through :func:`reference`).
- :func:`given`: within the block, the student's function sees reference implementations under the names of the
  earlier answers it calls. A slip in Q1 then costs Q1's marks, not Q2's too, when Q2's answer calls Q1's.
- :func:`frozen`: a hidden test's inputs and expected values as they were when the course was built, so that a
  library released mid-term (torch's random numbers, the study's metrics) never changes a grade.

Neither is a sandbox: they tell an honest mistake, or the shortcut of calling the library, from the asked method.
"""
from __future__ import annotations

import functools
import os
import pkgutil
import sys
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import mock

#: Set by the build (``otter assign``'s run of the tests): the file that :func:`frozen` records the values in.
FREEZE_ENV = "XAI_COURSE_FREEZE"
#: The recorded values in an autograder: the build adds the file to its zip under ``files/``, which ``otter run``
#: copies next to the submission, the folder the tests run in.
FROZEN_FILE = "frozen_expected.pt"

_trusted = [0]  # > 0 while a reference implementation runs: the library calls it makes are the tests' own


def reference(function):
    """``function`` as a reference implementation: the library calls it makes are allowed inside :func:`own_work`."""
    @functools.wraps(function)
    def trusted(*args, **kwargs):
        _trusted[0] += 1
        try:
            return function(*args, **kwargs)
        finally:
            _trusted[0] -= 1
    return trusted


@contextmanager
def own_work(*targets: str, question: str, student=None):
    """Within the block, calling any of ``targets`` (dotted names such as
    ``"captum.attr.IntegratedGradients.attribute"`` or ``"xai_helpers.gan.fid_from_features"``) raises an
    AssertionError that tells the student to write ``question``'s method themselves. A method of a class is
    replaced on the class; a function wherever a loaded module (the notebook's namespace included) holds it, and in
    the globals of ``student`` (the student's function) when given."""
    with ExitStack() as stack:
        for target in targets:
            owner_name, attribute = target.rsplit(".", 1)
            owner = pkgutil.resolve_name(owner_name)
            original = getattr(owner, attribute)
            guard = _guard(original, target, question)
            if isinstance(owner, type):
                stack.enter_context(mock.patch.object(owner, attribute, guard))
                continue
            for namespace, key in _bindings(original, student):
                _swap(stack, namespace, key, guard)
        yield


@contextmanager
def given(student, **references):
    """Within the block, ``student`` (the student's function) finds ``references`` (reference implementations,
    trusted as by :func:`reference`) under their names in its globals, instead of the student's earlier answers."""
    namespace = _namespace(student)
    with ExitStack() as stack:
        for name, function in references.items():
            _swap(stack, namespace, name, reference(function))
        yield


_MISSING = object()


def _swap(stack: ExitStack, namespace: dict, key: str, value) -> None:
    """``namespace[key] = value`` until ``stack`` closes; only that key is restored (a module's other globals,
    changed meanwhile, stay as they are)."""
    old = namespace.get(key, _MISSING)
    namespace[key] = value
    stack.callback(lambda: namespace.pop(key, None) if old is _MISSING else namespace.__setitem__(key, old))


def frozen(key: str, make):
    """``make()`` (a dict of tensors, arrays and numbers: a test's inputs and the values the library gives on them),
    as computed when the course was built. The build (``XAI_COURSE_FREEZE`` set) computes and records it; grading
    reads the record from the autograder. A value that depends on the lab's own model is not for freezing: the
    model is rebuilt with the machine's cache, and the student's answer with it, so such tests compare live."""
    import torch

    record = os.environ.get(FREEZE_ENV)
    if record:
        value = make()
        values = torch.load(record, weights_only=True) if Path(record).is_file() else {}
        torch.save({**values, key: value}, record)
        return value
    if not Path(FROZEN_FILE).is_file():  # the master or the autograder notebook run by hand: nothing to read
        warnings.warn(f"no {FROZEN_FILE} here (not in an autograder): {key!r} is computed with today's libraries")
        return make()
    values = torch.load(FROZEN_FILE, weights_only=True)
    if key not in values:
        raise RuntimeError(f"the autograder holds no frozen value {key!r}: rebuild the course (./run_all.sh --course)")
    return values[key]


def _guard(original, target: str, question: str):
    @functools.wraps(original)
    def guard(*args, **kwargs):
        if _trusted[0]:
            return original(*args, **kwargs)
        raise AssertionError(f"{question} asks you to write the method yourself, but your code called {target}: "
                             "the library's version may be read for comparison, not returned as your answer")
    return guard


def _namespace(student) -> dict:
    """The globals a student's function looks names up in (the notebook's namespace)."""
    namespace = getattr(student, "__globals__", None)
    if namespace is None:  # a partial or a callable object: the notebook's own namespace
        namespace = vars(sys.modules["__main__"])
    return namespace


def _bindings(original, student) -> list[tuple[dict, str]]:
    """Every (namespace, name) that holds ``original``: loaded modules' globals and the student's."""
    spaces = [vars(m) for m in list(sys.modules.values()) if hasattr(m, "__dict__")]
    if student is not None:
        spaces.append(_namespace(student))
    found, seen = [], set()
    for space in spaces:
        if id(space) in seen:
            continue
        seen.add(id(space))
        found += [(space, key) for key, value in list(space.items()) if value is original]
    return found
