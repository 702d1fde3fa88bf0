"""Small helpers that notebooks call instead of defining functions: finiteness, tables as metrics dicts."""
import math

import pandas as pd

from xai_helpers.evaluation.tables import table_or_reason
from xai_helpers.study import all_finite, frame_dict


def test_all_finite_walks_nested_metrics():
    assert all_finite({"a": 1.0, "b": {"c": [1, 2.5, None, "x"]}})
    assert not all_finite({"a": {"b": [0.0, math.nan]}}) and not all_finite({"a": math.inf})


def test_frame_dict_names_rows_and_joins_tuple_names():
    table = pd.DataFrame({"mean": [0.9, 0.8]}, index=pd.MultiIndex.from_tuples([("accuracy", "plain"), ("f1", "plain")]))
    assert frame_dict(table) == {"accuracy / plain": {"mean": 0.9}, "f1 / plain": {"mean": 0.8}}
    assert frame_dict(None) is None


def test_table_or_reason_gives_the_reason_a_table_is_missing():
    def missing(run):
        raise FileNotFoundError(f"{run}/metrics/02.json does not exist")
    assert table_or_reason(missing, "r") == (None, "r/metrics/02.json does not exist")
    assert table_or_reason(lambda run: run * 2, 3) == (6, None)
