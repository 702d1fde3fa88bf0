"""The cross-data-set summary of a workflow run: ``python -m xai_helpers.reporting.cross_dataset_report --out OUT
--datasets A B ...`` (the last job of ``workflow/Snakefile``).

Writes ``OUT/summary/``: the comparison tables of :mod:`xai_helpers.evaluation.cross_dataset` as CSV, Markdown
and HTML (``tables/cross_dataset_<name>.*``), two figures, ``summary.md`` and a self-contained ``report.html``
that links each data set's own report. Nothing is computed here beyond what those modules compute.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

import pandas as pd

from ..evaluation import cross_dataset as CD
from ..evaluation.cross_dataset_figures import accuracy_figure, rank_heatmap
from ..study import run_environment, save_figure, save_table
from .report_html import contents_html, esc, figure_html, key_value_table, page_html, table_html
from .report_tables import TableSpec, display_tables, format_number, read_table

SECTIONS = (
    TableSpec("classification", "1 · Classification on each data set"),
    TableSpec("fidelity", "2 · Generative fidelity on each data set",
              note="FIDs of different data sets are not on one scale (each is measured in the features of that data "
                   "set's own classifier): compare a data set's FID with its real-vs-real floor, not across rows."),
    TableSpec("method_ranks", "3 · Attribution methods: mean rank on each data set", ranked=True, max_columns=12,
              note="Each cell is the method's mean rank over notebook 02's graded metrics on that data set (1 = best)."),
    TableSpec("rank_agreement", "3a · Do the data sets rank the methods alike?",
              note="Spearman's ρ between two data sets' mean ranks (methods both ran; chance 0), Kendall's W over all "
                   "data sets (1 = the same order everywhere; under independent rankings its expectation is 1/m for m "
                   "data sets, the chance column, so with two data sets 0.5 is no agreement and 0 the reversed order), "
                   "and Friedman's test of W against chance, χ² = m (n − 1) W for n methods, with its p-value."),
    TableSpec("checks", "4 · The study's ground-truth checks on each data set",
              note="Seeds on which the check passed, of the seeds on which it could be made."),
    TableSpec("cost", "5 · Cost of each data set"),
)


def write_summary(out: str | Path, datasets: list[str], log=print) -> Path:
    """Compare ``datasets`` (folders under ``out``) and write ``out/summary/``; returns its ``report.html``."""
    out = Path(out)
    folders = CD.dataset_folders(out, datasets)
    tables = CD.compare(folders)
    root = out / "summary"
    for name, table in tables.items():  # a (dataset, model) index as two columns, which Markdown shows as such
        save_table(table.reset_index() if table.index.nlevels > 1 else table, root, f"cross_dataset_{name}")
    ranks, agreement = tables["method_ranks"], tables["rank_agreement"]
    w = float(agreement.loc["all data sets", "value"])
    figures = [(save_figure(accuracy_figure(tables["classification"]), root, "cross_dataset_accuracy"),
                "Test accuracy of the plain and attention CNN on each data set (bars: 95 % interval over seeds)."),
               (save_figure(rank_heatmap(ranks, w), root, "cross_dataset_method_ranks"),
                "Mean rank of every attribution method on each data set (1 = best).")]
    findings = _findings(tables, w)
    envs = {d: run_environment(f) for d, f in folders.items()}

    sections, contents = [], []
    for spec in SECTIONS:
        frame = read_table(root / "tables" / f"cross_dataset_{spec.suffix}.csv")
        note = f'<p class="note">{esc(spec.note)}</p>' if spec.note else ""
        body = note + "".join(table_html(t) for t in display_tables(frame, spec))
        sections.append(f'<section id="{esc(spec.suffix)}"><h2>{esc(spec.heading)}</h2>{body}</section>')
        contents.append((spec.suffix, spec.heading))
    sections.append('<section id="figures"><h2>Figures</h2>'
                    + "".join(figure_html(path, i + 1, caption) for i, (path, caption) in enumerate(figures))
                    + "</section>")
    links = "".join(f'<li><a href="{esc(os.path.relpath(f / "report.html", root))}">{esc(d)}</a>: '
                    f'seeds {esc(envs[d].get("seeds"))}, profile {esc(envs[d].get("profile"))}</li>'
                    for d, f in folders.items())
    sections.append(f'<section id="datasets"><h2>Each data set\'s own report</h2><ul>{links}</ul></section>')
    first = next(iter(envs.values()))
    sections.append('<section id="provenance"><h2>Provenance</h2>' + key_value_table(
        [("git_sha", first.get("git_sha")), ("python", first.get("python")), ("cpu", first.get("cpu")),
         ("gpu", first.get("gpu")), ("written", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))],
        "provenance") + "</section>")
    contents += [("figures", "Figures"), ("datasets", "Each data set's own report"), ("provenance", "Provenance")]
    items = "".join(f"<li>{esc(f)}</li>" for f in findings)
    page = page_html("XAI study: data sets compared", [
        "<h1>XAI study: data sets compared</h1>",
        f'<p class="run">Data sets {esc(", ".join(folders))}; workflow results in <code>{esc(out)}</code>.</p>',
        f'<section class="summary" id="summary"><h2>Summary</h2><ul>{items}</ul></section>',
        contents_html(contents), *sections])
    report = root / "report.html"
    tmp = report.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(report)
    lines = ["# XAI study: data sets compared", "", *(f"- {f}" for f in findings), ""]
    for spec in SECTIONS:
        lines += [f"## {spec.heading}", "", (root / "tables" / f"cross_dataset_{spec.suffix}.md").read_text(), ""]
    (root / "summary.md").write_text("\n".join(lines))
    log(f"Cross-data-set summary: {report}")
    return report


def _findings(tables: dict, w: float) -> list[str]:
    """Sentences from the tables' numbers (best and worst data set for the plain CNN, the best method on each data
    set and the agreement of the rankings)."""
    out = []
    plain = tables["classification"].xs("plain CNN", level="model") if "plain CNN" in \
        tables["classification"].index.get_level_values("model") else None
    if plain is not None and len(plain) > 1:
        best, worst = plain["accuracy"].idxmax(), plain["accuracy"].idxmin()
        out.append(f"The plain CNN is most accurate on {best} ({format_number(plain.loc[best, 'accuracy'])}) and "
                   f"least on {worst} ({format_number(plain.loc[worst, 'accuracy'])}).")
    ranks = tables["method_ranks"]
    best_methods = ", ".join(f"{d}: {ranks[d].idxmin()}" for d in ranks.columns if ranks[d].notna().any())
    out.append(f"Best attribution method by mean rank — {best_methods}.")
    if w == w:  # not NaN
        row = tables["rank_agreement"].loc["all data sets"]
        p = "" if pd.isna(row["p_value"]) else f", Friedman's test p = {format_number(row['p_value'])}"
        out.append(f"Agreement of the method rankings across data sets: Kendall's W = {format_number(w)} "
                   f"over {int(row['methods'])} methods (chance level {format_number(row['chance'])}{p}).")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m xai_helpers.reporting.cross_dataset_report",
                                description="Compare the data sets of a workflow run (writes OUT/summary/).")
    p.add_argument("--out", required=True, help="the workflow's results folder (holds one folder per data set)")
    p.add_argument("--datasets", nargs="+", required=True, help="data sets to compare (folders under --out)")
    args = p.parse_args(argv)
    try:
        write_summary(args.out, args.datasets)
    except (FileNotFoundError, ValueError) as err:
        print(f"cross_dataset_report: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
