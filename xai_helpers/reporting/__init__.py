"""The roof, second half: what reports on a finished run. :mod:`.report` assembles ``report.html`` from the tables,
figures and checks the notebooks wrote (:mod:`.report_tables` formats the tables, :mod:`.report_findings` writes the
summary's sentences from the numbers, :mod:`.report_html` holds the markup); :mod:`.cross_dataset_report` is the
workflow's page comparing data sets.

It stands above every part, so it may import what it reports on (the parts' own definitions of metrics and checks)
instead of restating them; no notebook and no part imports it."""
from .report import build_report

__all__ = ["build_report"]
