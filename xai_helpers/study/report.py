"""The study report: ``report.html`` (self-contained, opens offline) and the tables appended to ``summary.md``.

Built by the runner at the end of a run from what the run folder holds: the evaluation tables of notebook 06
(``tables/06_evaluation_*``), the study's checks, the key figures of every notebook (embedded as data URIs, so
no file or CDN is needed), links to each executed notebook's HTML export, and the provenance from
``environment.json``. Nothing is computed here; a table or figure that a run did not produce is listed as
missing.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

#: Figures shown per notebook (file stems without the notebook prefix), in this order.
KEY_FIGURES = {
    "01_cnn_training": ("confusion", "attention_maps", "saliency_over_epochs_plain"),
    "02_cnn_attribution": ("method_grid", "planted_patch", "sanity_cascade", "deletion_insertion_curves"),
    "03_tcav": ("score_heatmaps", "planted_curve"),
    "04_gan_dynamics": ("losses", "samples_over_training", "fidelity_over_training", "calibration"),
    "05_gan_latent": ("sensitivity", "traversals", "generation_explained", "disentanglement", "ablation"),
    "06_evaluation": ("rating_items",),
}
#: Evaluation tables in report order: (file stem suffix, heading).
TABLES = (("checks", "The study's own checks"),
          ("classification", "1 · Classification (mean and 95 % interval over seeds)"),
          ("augmentation", "2 · Synthetic augmentation (real test split, Wilson 95 % interval)"),
          ("fidelity", "3 · Generative fidelity with calibration rows"),
          ("explanation_ranks", "4 · Explanation quality: ranks per metric (1 = best)"),
          ("explanation_metrics", "4a · Explanation quality: every metric of notebook 02 (mean over seeds)"),
          ("tcav", "4b · TCAV (notebook 03): significance, random controls, the planted pattern"),
          ("latent", "4c · Latent space (notebook 05): exactness checks, directions, dissection"),
          ("disentanglement", "4d · Disentanglement on shapes (notebook 05)"),
          ("human_per_method", "5 · Human ratings per method"), ("human_choice_ranking", "5b · Bradley–Terry ranking"),
          ("cost", "6 · Cost"))

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#f2f2f2}img{max-width:100%;border:1px solid #eee;margin:.3em 0}.missing{color:#a00}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em}"""


def _seed_roots(run_root: Path) -> list[Path]:
    subs = sorted(p for p in run_root.glob("seed-*") if p.is_dir())
    return subs or [run_root]


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}"></figure>'


def build_report(run_root: str | Path) -> Path:
    """Write ``report.html`` into the run folder and append the evaluation tables to ``summary.md``."""
    root = Path(run_root)
    env = json.loads((root / "environment.json").read_text()) if (root / "environment.json").exists() else {}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>XAI study {html.escape(root.name)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>XAI study report</h1>",
             f"<p>Run <code>{html.escape(root.name)}</code>: profile {html.escape(str(env.get('profile')))}, "
             f"seeds {html.escape(str(env.get('seeds')))}, device {html.escape(str(env.get('device')))}, "
             f"state {html.escape(str(env.get('state', 'running')))}.</p>"]
    summary_md = ["", "## Evaluation tables (notebook 06)", ""]
    tables = root / "tables"
    for suffix, heading in TABLES:
        stem = f"06_evaluation_{suffix}"
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if (tables / f"{stem}.html").exists():
            parts.append((tables / f"{stem}.html").read_text())
            summary_md += [f"### {heading}", "", (tables / f"{stem}.md").read_text(), ""]
        else:
            parts.append('<p class="missing">not produced in this run (its notebook did not run, or there is '
                         'nothing to show, e.g. no human ratings yet)</p>')
    parts.append("<h2>Key figures</h2>")
    seed_roots = _seed_roots(root)
    for notebook, names in KEY_FIGURES.items():
        folder = root if notebook == "06_evaluation" else seed_roots[0]
        found = [folder / "figures" / f"{notebook}_{n}.png" for n in names]
        found = [p for p in found if p.exists()]
        if not found:
            continue
        parts.append(f"<h3>{html.escape(notebook)}</h3>" + "".join(_figure(p) for p in found))
    parts.append("<h2>Executed notebooks</h2><ul>")
    for folder in [root, *([p for p in seed_roots if p != root])]:
        for page in sorted((folder / "html").glob("*.html")):
            rel = page.relative_to(root).as_posix()
            parts.append(f'<li><a href="{html.escape(rel)}">{html.escape(rel)}</a></li>')
    parts.append("</ul><h2>Provenance</h2><table>")
    for key in ("run_id", "git_sha", "start_utc", "end_utc", "python", "platform", "cpu", "cpu_count",
                "runner_torch_threads", "gpu", "device", "profile", "seeds"):
        parts.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(env.get(key)))}</td></tr>")
    packages = env.get("packages") or {}
    parts.append("".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                         for k, v in sorted(packages.items())))
    parts.append("</table></body></html>")
    out = root / "report.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(out)
    if (tables / "06_evaluation_checks.md").exists() and (root / "summary.md").exists():
        with open(root / "summary.md", "a", encoding="utf-8") as f:
            f.write("\n".join(summary_md) + "\n")
    return out
