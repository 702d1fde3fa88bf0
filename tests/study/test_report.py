"""The study report: self-contained HTML from whatever the run folder holds, tables appended to summary.md."""
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from xai_helpers.study.report import build_report  # noqa: E402
from xai_helpers.study.run_io import save_table  # noqa: E402


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
    assert "not produced in this run" in page  # e.g. no augmentation table here
    assert "planted patch found" in (tmp_path / "summary.md").read_text()


def test_report_of_a_multi_seed_run_links_every_seed(tmp_path):
    for seed in (0, 1):
        (tmp_path / f"seed-{seed}" / "html").mkdir(parents=True)
        (tmp_path / f"seed-{seed}" / "html" / "01_cnn_training.html").write_text("<html></html>")
    page = build_report(tmp_path).read_text()
    assert "seed-0/html/01_cnn_training.html" in page and "seed-1/html/01_cnn_training.html" in page
