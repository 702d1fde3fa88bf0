"""The study report: self-contained HTML from whatever the run folder holds, tables appended to summary.md, read
like a results section (summary of findings, units and better directions, intervals only over several seeds, no
row numbers, nothing wider than the page)."""
import json
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from xai_helpers.reporting.report import build_report  # noqa: E402
from xai_helpers.reporting.report_findings import findings  # noqa: E402
from xai_helpers.reporting.report_tables import (TableSpec, display_tables, format_number, header,  # noqa: E402
                                             read_table)
from xai_helpers.study.run_io import save_table  # noqa: E402

NAN = float("nan")
METHODS = ("occlusion", "saliency", "grad_cam")
#: Every column 02 writes per method (and one the report does not know), so the table is wider than the page.
METRIC_COLUMNS = ("deletion_auc.blur", "deletion_auc.zero", "sparseness", "images_per_second", "infidelity",
                  "insertion_auc.blur", "insertion_auc.zero", "max_sensitivity", "relevance_mass_accuracy", "pointing_chance",
                  "pointing_chance_clean_model", "pointing_game", "pointing_game_clean_model",
                  "randomization_degenerate_maps", "randomization_spearman", "randomization_ssim", "mystery_score")


class Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts, header rows (thead) apart from body rows."""

    def __init__(self, page: str):
        super().__init__()
        self.tables, self._cell, self._in_head = [], None, False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"head": [], "body": []})
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self.tables:
            self.tables[-1]["head" if self._in_head else "body"].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["head" if self._in_head else "body"][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _interval(values):
    """(mean, low, high, n) the way the evaluation tables write it: no interval from a single value."""
    v = np.asarray(values, float)
    if len(v) < 2:
        return v.mean(), NAN, NAN, len(v)
    return v.mean(), v.min(), v.max(), len(v)  # any honest interval will do for presentation


def make_run(root, seeds=(0,), accuracy=(0.91, 0.93), failed_check=None, best_method="occlusion"):
    """A small run folder in the layout of a real one: environment.json, summary.md, the evaluation tables as
    notebook 06 saves them (index, empty interval columns with one seed) and a key figure."""
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("tables", "figures", "html", "metrics"):
        (root / sub).mkdir(exist_ok=True)
    (root / "environment.json").write_text(json.dumps({"profile": "smoke", "seeds": list(seeds), "device": "cpu",
                                                       "packages": {"torch": "2.14.1"}}))
    (root / "summary.md").write_text("# Study run\n")
    checks = [{"notebook": nb, "seed": s, "check": c, "passed": c != failed_check, "measured": "m"}
              for s in seeds for nb, c in (("02_cnn_attribution", "planted patch found"),
                                           ("03_tcav", "no random control significant"),
                                           ("05_gan_latent", "Jacobian matches finite differences"))]
    save_table(pd.DataFrame(checks), root, "06_evaluation_checks")
    spread = np.linspace(-0.01, 0.01, len(seeds)) if len(seeds) > 1 else np.zeros(1)
    rows = []
    for metric, values in (("accuracy", accuracy), ("macro-F1", accuracy), ("calibration error (ECE)", (0.02, 0.03))):
        for model, v in zip(("plain CNN", "attention CNN"), values):
            mean, low, high, n = _interval(v + spread)
            rows.append({"metric": metric, "model": model, "mean": mean, "ci_low": low, "ci_high": high, "n_seeds": n})
        if len(seeds) > 1:
            rows.append({"metric": metric, "model": "attention − plain", "mean": values[1] - values[0],
                         "ci_low": -0.01, "ci_high": 0.05, "n_seeds": len(seeds), "p_paired_t": 0.2})
    save_table(pd.DataFrame(rows).set_index(["metric", "model"]), root, "06_evaluation_classification")
    fid = {"GAN": 5.0, "real vs real (floor)": 0.3, "one-class generator (collapsed)": 130.0}
    rows = [{"set": s, "metric": m, **dict(zip(("mean", "ci_low", "ci_high", "n_seeds"), _interval(v * k + spread)))}
            for s, v in fid.items() for m, k in (("FID", 1.0), ("KID", 0.01), ("precision", 0.005), ("recall", 0.006),
                                                  ("density", 0.2), ("coverage", 0.1))]
    save_table(pd.DataFrame(rows).set_index(["set", "metric"]), root, "06_evaluation_fidelity")
    order = [best_method] + [m for m in METHODS if m != best_method]
    ranks = pd.DataFrame({"deletion_auc.zero": [1.0, 2.0, 3.0], "pointing_game": [1.0, 3.0, 2.0]}, index=order)
    ranks["mean rank"] = ranks.mean(axis=1)
    save_table(ranks.rename_axis("method"), root, "06_evaluation_explanation_ranks")
    means = pd.DataFrame({c: [0.1 * (i + 1) for i in range(len(METHODS))] for c in METRIC_COLUMNS}, index=METHODS)
    means["pointing_chance"] = 0.045  # the same images for every method
    means["n_seeds"] = len(seeds)
    save_table(means.rename_axis("method"), root, "06_evaluation_explanation_metrics")
    cost = pd.DataFrame({"notebook": ["01_cnn_training", "whole study"], "seed": ["0", "all"], "seconds": [60.0, 60.0],
                         "device": "cpu", "profile": "smoke", "cpu": "test CPU", "runner_torch_threads": 2, "gpu": None})
    save_table(cost, root, "06_evaluation_cost")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    folder = root / "seed-0" if len(seeds) > 1 else root
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / "figures" / "01_cnn_training_confusion.png")
    plt.close(fig)
    for s in seeds if len(seeds) > 1 else ():
        (root / f"seed-{s}" / "html").mkdir(parents=True, exist_ok=True)
        (root / f"seed-{s}" / "html" / "01_cnn_training.html").write_text("<html></html>")
    return root


def _table_with(tables, header_text):
    found = [t for t in tables if t["head"] and header_text in t["head"][0]]
    assert found, f"no table with the header {header_text!r}"
    return found[0]


def _summary(page: str) -> str:
    return page[page.index('id="summary"'):page.index('id="contents"')]


def test_report_embeds_tables_and_figures_and_needs_no_network(tmp_path):
    for sub in ("tables", "figures", "html", "metrics"):
        (tmp_path / sub).mkdir()
    (tmp_path / "environment.json").write_text(json.dumps({"profile": "smoke", "seeds": [0], "device": "cpu",
                                                           "packages": {"torch": "2.14.1"}}))
    (tmp_path / "summary.md").write_text("# Study run\n")
    save_table(pd.DataFrame({"check": ["planted patch found"], "passed": [True]}), tmp_path, "06_evaluation_checks")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    fig.savefig(tmp_path / "figures" / "01_cnn_training_confusion.png")
    (tmp_path / "html" / "01_cnn_training.html").write_text("<html></html>")
    page = build_report(tmp_path).read_text()
    assert "planted patch found" in page and "data:image/png;base64," in page
    assert 'href="html/01_cnn_training.html"' in page and "2.14.1" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched when it opens
    assert "<script" not in page and "<link" not in page  # one file: no external style or code either
    assert "not produced in this run" in page  # e.g. no augmentation table here
    summary_md = (tmp_path / "summary.md").read_text()
    assert "planted patch found" in summary_md and "## Summary of findings" in summary_md


def test_report_of_a_multi_seed_run_links_every_seed(tmp_path):
    for seed in (0, 1):
        (tmp_path / f"seed-{seed}" / "html").mkdir(parents=True)
        (tmp_path / f"seed-{seed}" / "html" / "01_cnn_training.html").write_text("<html></html>")
    page = build_report(tmp_path).read_text()
    assert "seed-0/html/01_cnn_training.html" in page and "seed-1/html/01_cnn_training.html" in page


@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)], ids=["one seed", "three seeds"])
def test_no_table_starts_with_a_row_number(tmp_path, seeds):
    page = build_report(make_run(tmp_path / "run", seeds)).read_text()
    tables = Tables(page).tables
    for table in tables:
        first = [row[0] for row in table["body"] if row]
        assert len(first) < 2 or first != [str(i) for i in range(len(first))], table
    assert len(tables) >= 8  # checks, classification, fidelity, ranks, metrics (split), cost, provenance
    checks = _table_with(tables, "check")  # saved with a RangeIndex: the row numbers are gone, the data stays
    assert checks["head"][0][0] == "notebook" and checks["body"][0][0] == "02_cnn_attribution"


def test_read_table_drops_row_numbers_but_keeps_row_names(tmp_path):
    save_table(pd.DataFrame({"x": [1.0, 2.0]}), tmp_path, "numbered")
    save_table(pd.DataFrame({"mig": [0.1, 0.0]}, index=["InfoGAN-CR", "random codes"]), tmp_path, "named")
    assert list(read_table(tmp_path / "tables" / "numbered.csv").columns) == ["x"]
    named = read_table(tmp_path / "tables" / "named.csv", "model")
    assert list(named.columns) == ["model", "mig"] and named["model"].tolist() == ["InfoGAN-CR", "random codes"]


def test_intervals_only_with_several_seeds(tmp_path):
    one = Tables(build_report(make_run(tmp_path / "one", (0,))).read_text()).tables
    table = _table_with(one, "accuracy ↑")
    assert table["body"][0][:2] == ["plain CNN", "0.91"]  # a plain mean, no brackets, no empty interval column
    assert not any("[" in cell or cell == "—" for row in table["body"] for cell in row)
    assert not any("ci_" in h or "n_seeds" in h for t in one for h in (t["head"] or [[]])[0])

    three = Tables(build_report(make_run(tmp_path / "three", (0, 1, 2))).read_text()).tables
    table = _table_with(three, "accuracy ↑")
    plain = next(row for row in table["body"] if row[0] == "plain CNN")
    assert plain[1] == "0.91 [0.9, 0.92]"  # mean [low, high] in one cell
    difference = next(row for row in table["body"] if row[0] == "attention − plain")
    assert difference[1] == "0.02 [-0.01, 0.05], p = 0.2"


def test_interval_note_says_what_the_numbers_are(tmp_path):
    one = build_report(make_run(tmp_path / "one", (0,))).read_text()
    assert "one seed: single values, no interval over seeds" in one
    assert "mean [95 % Student-t interval] over 3 seeds" in build_report(make_run(tmp_path / "three", (0, 1, 2))).read_text()


def test_known_metrics_get_units_and_better_direction_unknown_ones_no_arrow(tmp_path):
    tables = Tables(build_report(make_run(tmp_path / "run")).read_text()).tables
    headers = {h for t in tables for h in (t["head"] or [[]])[0]}
    for expected in ("accuracy ↑", "calibration error (ECE) ↓", "FID ↓", "KID ↓", "precision ↑", "recall ↑",
                     "deletion AUC (zero) ↓", "insertion AUC (blur) ↑", "infidelity ↓", "pointing game ↑",
                     "speed (images/s) ↑", "wall time (s) ↓", "mean rank ↓"):
        assert expected in headers, expected
    assert "mystery score" in headers  # unknown: its name, no guessed arrow
    assert "sparseness (Gini)" in headers  # known but descriptive: no arrow
    ranks = _table_with(tables, "mean rank ↓")  # ranks are better low whatever the metric: no metric arrows there
    assert "deletion AUC (zero)" in ranks["head"][0] and "pointing game" in ranks["head"][0]
    assert header("fid") == "fid" and header("FID") == "FID ↓" and header("seconds") == "wall time (s) ↓"


def test_wide_tables_are_split_and_context_columns_become_notes(tmp_path):
    page = build_report(make_run(tmp_path / "run")).read_text()
    parts = [t for t in Tables(page).tables if t["head"] and t["head"][0][0] == "method" and len(t["body"]) == 3]
    metric_parts = [t for t in parts if "mean rank ↓" not in t["head"][0]]
    assert len(metric_parts) >= 3 and all(len(t["head"][0]) <= 9 for t in metric_parts)
    shown = {h for t in metric_parts for h in t["head"][0]}
    assert "pointing chance" not in shown and "pointing chance: 0.045" in page  # one value in every row: a note
    cost = _table_with(Tables(page).tables, "wall time (s) ↓")
    assert cost["head"][0] == ["notebook", "seed", "wall time (s) ↓"] and "cpu: test CPU" in page


def test_numbers_are_rounded_to_four_significant_digits():
    assert [format_number(v) for v in (0.98199728, 131.6164, 9.975e-11, 2.0, 1198.89, 12345.6, NAN)] == \
        ["0.982", "131.6", "9.975e-11", "2", "1199", "12346", ""]


def test_summary_reflects_the_numbers(tmp_path):
    page = build_report(make_run(tmp_path / "ok", accuracy=(0.91, 0.93))).read_text()
    summary = _summary(page)
    assert "All 3 checks" in summary and "failed" not in summary
    assert "plain CNN reaches test accuracy 0.91 and the attention CNN 0.93" in summary
    assert "one seed" in summary and "not tested" in summary
    assert "occlusion has the best mean rank" in summary
    assert "FID of 5 lies between the real-vs-real floor (0.3)" in summary
    assert "density 1 and coverage 0.5 (the real-vs-real floor&#x27;s coverage 0.03)" in summary
    assert "1 min of wall time" in summary

    page = build_report(make_run(tmp_path / "bad", accuracy=(0.8, 0.7), failed_check="no random control significant",
                                 best_method="grad_cam")).read_text()
    summary = _summary(page)
    assert "2 of 3 checks" in summary and "failed: “no random control significant” (03_tcav, seed 0" in summary
    assert "plain CNN reaches test accuracy 0.8 and the attention CNN 0.7" in summary
    assert "grad_cam has the best mean rank" in summary


def test_summary_over_seeds_gives_intervals_and_the_paired_difference(tmp_path):
    summary = _summary(build_report(make_run(tmp_path / "run", (0, 1, 2))).read_text())
    assert "over 3 seeds (0, 1, 2)" in summary and "0.91 [0.9, 0.92]" in summary
    assert "attention − plain is 0.02 [-0.01, 0.05], paired t-test p = 0.2; its interval includes 0" in summary
    assert "9 check results over 3 seeds" in summary


def test_missing_sources_are_skipped_not_invented(tmp_path):
    run = make_run(tmp_path / "run")
    for suffix in ("classification", "fidelity", "cost"):
        (run / "tables" / f"06_evaluation_{suffix}.csv").unlink()
    (run / "tables" / "06_evaluation_explanation_ranks.csv").write_text("method,score\nsaliency,1\n")  # older columns
    summary = _summary(build_report(run).read_text())
    assert "All 3 checks" in summary
    for absent in ("Classification", "Generative fidelity", "Cost", "Explanation quality", "TCAV", "Disentanglement"):
        assert absent not in summary
    # and with nothing at all in the folder the report still builds, saying only what it knows
    (tmp_path / "empty").mkdir()
    summary = _summary(build_report(tmp_path / "empty").read_text())
    assert "used one seed" in summary and "checks" not in summary


def test_findings_are_built_from_tables_alone():
    checks = pd.DataFrame({"notebook": ["03_tcav"], "seed": [1], "check": ["c"], "passed": [None], "measured": [""]})
    sentences = [f.text for f in findings({"checks": checks}, {"seeds": [1]}, 1)]
    assert sentences[0].startswith("This run used one seed (1)") and "Not made (1): “c” (03_tcav, seed 1)" in sentences[1]


def test_display_table_of_a_long_metric_table_pivots_it():
    frame = pd.DataFrame({"set": ["GAN", "GAN"], "metric": ["FID", "recall"], "mean": [5.0, 0.8],
                          "ci_low": [NAN, NAN], "ci_high": [NAN, NAN], "n_seeds": [1, 1]})
    (table,) = display_tables(frame, TableSpec("fidelity", "", pivot=("set", "metric")))
    assert table.headers == ["set", "FID ↓", "recall ↑"] and [t for t, _ in table.rows[0]] == ["GAN", "5", "0.8"]


def test_report_in_chromium_fits_the_page_and_has_no_row_numbers(tmp_path, chromium_path):
    from report_page import report_layout

    for seeds in ((0,), (0, 1, 2)):
        run = make_run(tmp_path / f"run{len(seeds)}", seeds)
        long_text = "a check whose measured value is a very long text " * 12  # must wrap, not widen the page
        checks = pd.read_csv(run / "tables" / "06_evaluation_checks.csv", index_col=0)
        checks.loc[0, "measured"] = long_text
        save_table(checks, run, "06_evaluation_checks")
        layout = report_layout(build_report(run), chromium_path)
        assert layout["scroll_width"] <= 1280 and layout["inner_width"] == 1280, layout
        assert layout["index_tables"] == 0, layout
    # The measurement itself can fail: a pandas table with its index and many columns, as the old report had it.
    wide = pd.DataFrame(np.full((3, 17), 0.123456), columns=[f"a_long_column_name_{i}" for i in range(17)])
    old = tmp_path / "old.html"
    old.write_text(f"<!doctype html><html><body style='max-width:1100px'>{wide.to_html()}</body></html>")
    layout = report_layout(old, chromium_path)
    assert layout["scroll_width"] > 1280 and layout["index_tables"] == 1, layout


def test_augmentation_finding_reports_the_gain_over_the_step_matched_row():
    """Issue 29, item 4: real + GAN trains for more steps than real only; the finding gives the gain over the real
    images trained for as many steps, and runs made before that row existed still read."""
    from xai_helpers.reporting.report_findings import augmentation_finding

    rows = [(0.1, "real", 0.946, 0, None, 0.3), (0.1, "real + synthetic", 0.955, 2000, -0.01, 0.04),
            (0.1, "synthetic only", 0.8, 2000, -0.165, 1e-9), (0.1, "real, step-matched", 0.965, 0, 0.0, None)]
    table = pd.DataFrame(rows, columns=["real_fraction", "training_set", "test_accuracy", "n_synthetic",
                                        "gain_over_step_matched", "p_mcnemar_vs_step_matched"])
    text = augmentation_finding(table).text
    assert ("real only trained for as many steps as real + GAN reaches 0.965, so the GAN's images add -0.01 "
            "(McNemar p = 0.04 on the same test images)") in text
    assert "positive in 0 of 1 regimes" in text
    assert "0.8 (GAN images only: the Classification Accuracy Score, CAS)" in text  # issue 36: named
    pseudo = augmentation_finding(table.assign(label_source="classifier")).text
    assert "0.8 (GAN images only: the Classification Accuracy Score, CAS, with a classifier's pseudo-labels)" in pseudo
    old = augmentation_finding(table.drop(columns="gain_over_step_matched").iloc[:3]).text
    assert "0.955 (real + 2000 GAN images)" in old and "step" not in old


def test_memorisation_finding_reads_the_rows_that_memorisation_table_writes(tmp_path):
    """Issue 36: the GAN's near-copy share and Z_U, and a pass only counts when the planted copier was caught."""
    from xai_helpers.evaluation import tables as ET
    from xai_helpers.reporting.report_findings import memorisation_finding

    def write(folder, copycat_flagged):
        (folder / "metrics").mkdir(parents=True)
        gan = {"near_copy_share": 0.0, "data_copying_z": 28.2, "median_distance_ratio": 1.7, "flagged": False}
        copycat = {"near_copy_share": 0.04, "data_copying_z": -7.9, "median_distance_ratio": 0.9,
                   "flagged": copycat_flagged}
        (folder / "metrics" / "04_gan_dynamics.json").write_text(
            json.dumps({"seed": 0, "memorisation": {"gan": gan, "copycat": copycat}}))
        return folder
    text = memorisation_finding(ET.memorisation_table(write(tmp_path / "a", True)).reset_index()).text
    assert text == ("Memorisation: the GAN was not flagged: 0 of its samples lie closer to a training image than 95 % "
                    "of held-out real images (about 0.05 for new images), Z_U 28.2 (below −3: copying); the planted "
                    "copier of training images was flagged.")
    missed = memorisation_finding(ET.memorisation_table(write(tmp_path / "b", False)).reset_index()).text
    assert "the planted copier was flagged in only 0% of seeds, so a pass here proves little" in missed


def test_tcav_finding_reads_the_found_rows_that_tcav_table_writes(tmp_path):
    """The report (study layer) names 06's row by its text; this ties the two, and the word says what the row
    holds: found = significant and above the null (a significant result below the null is not "significant")."""
    from xai_helpers.evaluation import tables as ET
    from xai_helpers.reporting.report_findings import tcav_finding

    for s, found in enumerate([True, False]):
        folder = tmp_path / f"seed-{s}" / "metrics"
        folder.mkdir(parents=True)
        (folder / "03_tcav.json").write_text(json.dumps({
            "seed": s, "n_significant": 1, "n_tests": 10, "random_controls_significant": 0, "n_cavs_flagged": 0,
            "planted_tcav_score": {"0": 0.2, "1": 1.0}, "planted_significant": {"0": None, "1": found}}))
    text = tcav_finding(ET.tcav_table(tmp_path).reset_index()).text
    assert "TCAV score 1 [1, 1], found (significant, above the null) in 1 of 2 seeds" in text
    assert "planted in 0 % it gives TCAV score 0.2 [0.2, 0.2], not tested (CAVs flagged at every layer)" in text


def test_the_cost_table_is_the_finished_runs_and_names_what_was_reused(tmp_path):
    """06's cost CSV is written before the run ends (or comes from the run it was reused from); the report's table is
    rebuilt from the run's records: this run's times, each notebook's slowest cell, and where results were reused."""
    run = make_run(tmp_path / "run")
    slow = {"cell": 7, "first_line": "model = train_classifier(...)", "seconds": 30.5}
    (run / "status.json").write_text(json.dumps({"notebooks": [
        {"notebook": "01_cnn_training", "seed": 0, "status": "ok", "seconds": 0.4, "reused_from": "run-A",
         "computed_seconds": 42.0, "slowest_cells": [slow]},
        {"notebook": "02_cnn_attribution", "seed": 0, "status": "ok", "seconds": 90.0, "slowest_cells": [],
         "peak_memory_mb": 1832.4}]}))
    page = build_report(run).read_text()
    cost = _table_with(Tables(page).tables, "wall time (s) ↓")
    assert cost["head"][0] == ["notebook", "seed", "wall time (s) ↓", "slowest cell", "reused from run",
                               "computed in (s) ↓", "peak memory (MB) ↓"]
    assert cost["body"][0][3] == "cell 7 (model = train_classifier(...)): 30.5 s" and cost["body"][0][4] == "run-A"
    assert cost["body"][-1][:3] == ["whole study", "all", "90.4"] and cost["body"][-1][5] == "132"
    assert cost["body"][1][6] == cost["body"][-1][6] == "1832"  # a reused notebook has no peak: the largest is 02's
    assert ("1 of 2 notebook runs were reused from earlier runs with the same inputs (computing every notebook took "
            "2.2 min)") in _summary(page)
