"""The study report: ``report.html`` (self-contained, opens offline) and the tables appended to ``summary.md``.

Built by the runner at the end of a run from what the run folder holds, and laid out as a paper's results
section: a summary of findings written from the run's numbers (:mod:`~xai_helpers.reporting.report_findings`), a
table of contents, the evaluation tables of notebook 06 (``tables/06_evaluation_*.csv``) with units, better
directions and intervals only where there are some (:mod:`~xai_helpers.reporting.report_tables`), the key figures of
every notebook with a caption, embedded as data URIs so no file or CDN is needed, links to each executed
notebook's HTML export, and the provenance from ``environment.json``. Nothing is computed here but the cost table
(from the run's records, :func:`~xai_helpers.study.run_records.cost_table`); a table or
figure that a run did not produce is listed as missing, and a sentence whose numbers are missing is left out.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..cnn import AR_MIN, NR_MIN
from ..evaluation import SEED_STABILITY_MIN
from ..study import cost_table, job_records, metrics_file, run_environment, seed_folders
from .report_cards import cards_html, method_cards
from .report_findings import findings
from .report_html import contents_html, esc, figure_html, key_value_table, page_html, summary_html, table_html
from .report_tables import TableSpec, display_tables, read_table

#: Figures shown per notebook (file stems without the notebook prefix), in this order.
KEY_FIGURES = {
    "01_cnn_training": ("confusion", "attention_maps", "saliency_over_epochs_plain"),
    "02_cnn_attribution": ("method_grid", "planted_patch", "sanity_cascade", "deletion_insertion_curves"),
    "03_tcav": ("score_heatmaps", "planted_curve"),
    "04_gan_dynamics": ("losses", "samples_over_training", "fidelity_over_training", "calibration", "memorisation"),
    "05_gan_latent": ("sensitivity", "traversals", "generation_explained", "disentanglement", "ablation"),
    "06_evaluation": ("rating_items",),
    "07_explorer": ("attribution", "latent", "training", "concepts"),
}
NOTEBOOK_TITLES = {"01_cnn_training": "CNN training (01)", "02_cnn_attribution": "CNN attribution (02)",
                   "03_tcav": "Concepts, TCAV (03)", "04_gan_dynamics": "GAN dynamics (04)",
                   "05_gan_latent": "GAN latent space (05)", "06_evaluation": "Evaluation (06)",
                   "07_explorer": "Explorers, static views (07)"}
#: One line under each key figure saying what it shows; a figure without one is captioned with its name.
FIGURE_CAPTIONS = {
    "01_cnn_training_confusion": "Confusion matrices of the plain and the attention CNN on the test split (row shares, %).",
    "01_cnn_training_attention_maps": "Where the attention CNN's attention module looks, one test image per class.",
    "01_cnn_training_saliency_over_epochs_plain": "Saliency of the same probe images after each epoch of the "
                                                  "plain CNN's training.",
    "02_cnn_attribution_method_grid": "Every attribution method on the same test images, for the predicted class.",
    "02_cnn_attribution_planted_patch": "Attributions of the shortcut model on images that carry the planted patch "
                                        "(the ground truth is the patch).",
    "02_cnn_attribution_sanity_cascade": "Model-randomisation sanity check: similarity to the original map as "
                                         "layers are randomised from the top down (a map that depends on the model "
                                         "falls).",
    "02_cnn_attribution_deletion_insertion_curves": "Deletion and insertion: the target class's probability as the "
                                                    "most relevant pixels are removed or revealed (dashed: random "
                                                    "order).",
    "03_tcav_score_heatmaps": "TCAV score per concept, class and layer (grey: not significant after Holm "
                              "correction; hatched: CAVs flagged).",
    "03_tcav_planted_curve": "The planted concept: TCAV score and what the model learned, against the planting rate.",
    "04_gan_dynamics_losses": "GAN training: losses of generator and discriminator and the discriminator's outputs.",
    "04_gan_dynamics_samples_over_training": "Samples of the same latent vectors at the stored training snapshots.",
    "04_gan_dynamics_fidelity_over_training": "FID, KID, precision/recall and IS of the generator at each snapshot.",
    "04_gan_dynamics_calibration": "Where the GAN's FID sits on a scale built from real images: real vs real, a "
                                   "corruption ladder and a one-class generator.",
    "04_gan_dynamics_memorisation": "Distance of each image to its nearest training image: held-out real images, "
                                    "the GAN and a planted copier of training images (τ: the near-copy threshold).",
    "05_gan_latent_sensitivity": "Latent variable sensitivity: mean norm of the generator's Jacobian per latent "
                                 "dimension.",
    "05_gan_latent_traversals": "Traversals along the directions of each family (SeFa, GANSpace, E[JᵀJ], "
                                "InterFaceGAN, random).",
    "05_gan_latent_generation_explained": "One generated image, three explanations: the classifier's pixel IG, the "
                                          "discriminator's saliency, latent IG through the generator.",
    "05_gan_latent_disentanglement": "Disentanglement on shapes: DCGAN and InfoGAN-CR between random codes and the "
                                     "true factors (ceiling).",
    "05_gan_latent_ablation": "GAN dissection: share of each concept removed by ablating its top units, against "
                              "random units.",
    "06_evaluation_rating_items": "What human raters see: a test image and an explanation whose method is hidden.",
    "07_explorer_attribution": "The attribution explorer's default view: three methods on one test image, "
                                        "with their deletion and insertion curves on that image.",
    "07_explorer_latent": "The GAN latent explorer's default view: one step along each family's first "
                                   "direction, with D's verdict and the per-pixel sensitivity.",
    "07_explorer_training": "The training scrubber at the last snapshot: samples, losses and D's outputs, "
                                     "and what D looks at.",
    "07_explorer_concepts": "The concept tester's default test: the shortcut model's planted pattern "
                                     "against random sets.",
}
_SEEDS = "mean [95 % Student-t interval] over {n} seeds"
#: Evaluation tables in report order (the file is ``tables/06_evaluation_<suffix>.csv``).
TABLES = (
    TableSpec("checks", "The study's own checks against ground truth"),
    TableSpec("classification", "1 · Classification: plain and attention CNN", pivot=("model", "metric"),
              interval_note=_SEEDS + "; the difference row: paired over seeds, with the paired t-test's p"),
    TableSpec("augmentation", "2 · Synthetic augmentation (tested on the real test split)",
              interval_note="test accuracy [Wilson 95 % interval over the test images]"),
    TableSpec("fidelity", "3 · Generative fidelity with calibration rows", pivot=("set", "metric"),
              note="FID, KID, IS, precision/recall and density/coverage in the feature space of the study's own "
                   "classifier: comparable within the study, not with Inception FIDs from papers."),
    TableSpec("memorisation", "3b · Memorisation: the GAN beside a planted copier", pivot=("set", "metric"),
              note="Near-copy share: samples closer to a training image than 95 % of held-out real images (about 0.05 "
                   "for new images); Z_U (Meehan et al. 2020): below −3 the samples sit closer to the training set "
                   "than new images do."),
    TableSpec("explanation_ranks", "4 · Explanation quality: rank of each method per metric", ranked=True,
              max_columns=12),
    TableSpec("explanation_metrics", "4a · Explanation quality: every metric of notebook 02",
              groups=(("faithfulness", ("deletion_auc.zero", "deletion_auc.blur", "insertion_auc.zero",
                                        "insertion_auc.blur", "road.morf", "road.lerf", "infidelity")),
                      ("ground truth: the planted patch", ("pointing_game", "relevance_mass_accuracy",
                                                           "relevance_rank_accuracy", "pointing_game_clean_model")),
                      ("robustness and sanity", ("max_sensitivity", "randomization_abs_spearman", "randomization_spearman",
                                                 "randomization_ssim", "randomization_degenerate_share", "random_logit",
                                                 "smooth_mprt", "efficient_mprt")),
                      ("complexity and speed", ("sparseness", "entropy", "images_per_second")))),
    TableSpec("tcav", "4b · TCAV (notebook 03): significance, random controls, the planted pattern",
              note="A significance row's value is the share of seeds in which the test was significant."),
    TableSpec("latent", "4c · Latent space (notebook 05): exactness checks, directions, dissection"),
    TableSpec("disentanglement", "4d · Disentanglement on shapes (notebook 05)", index_label="model",
              note="0 = chance, 1 = perfect.",
              groups=(("main scores", ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness",
                                       "factorvae", "betavae")),
                      ("raw accuracies and dislib's DCI", ("factorvae_raw", "betavae_raw", "dci_dislib_disentanglement",
                                                           "dci_dislib_completeness", "dci_dislib_informativeness")))),
    TableSpec("measure_reliability", "4e · Which measures can be read on this model", index_label="measure",
              note=f"NR: Spearman ρ over methods between the measure's scores on the original and on noised inputs "
                   f"or weights (≥ {NR_MIN} passes); AR: 1 − ρ against a disrupted model (≥ {AR_MIN} passes); seed "
                   f"stability: mean ρ between seeds (≥ {SEED_STABILITY_MIN}, from two seeds on). The mean rank of 4 "
                   "uses the readable measures only."),
    TableSpec("human_per_method", "5 · Human ratings per method",
              interval_note="mean rating [bootstrap 95 % interval over raters and images]"),
    TableSpec("human_choice_ranking", "5b · Bradley–Terry ranking from forced choices", index_label="method",
              interval_note="strength [bootstrap 95 % interval over choices]"),
    TableSpec("human_ratings_vs_metrics", "5c · Human ratings against the automatic metrics of the rated maps",
              index_label="automatic metric",
              note="Spearman's ρ over (image, method) items; p from permutations of the metric within each image, "
                   "p_holm corrected over the metrics."),
    TableSpec("cost", "6 · Cost"),
)
MISSING = ('<p class="missing">not produced in this run (its notebook did not run, or there is nothing to show, '
           'e.g. no human ratings yet)</p>')
PROVENANCE = ("run_id", "git_sha", "start_utc", "end_utc", "python", "platform", "cpu", "cpu_count",
              "runner_torch_threads", "gpu", "device", "profile", "seeds")


def _seed_roots(run_root: Path) -> list[Path]:
    return list(seed_folders(run_root).values()) or [run_root]


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _tables(root: Path) -> dict[str, object]:
    """Every evaluation table the run holds, by suffix, as read from its CSV; the cost table from the finished
    run's records (06's copy was written before the run ended, or by the earlier run it was reused from)."""
    folder = root / "tables"
    tables = {spec.suffix: read_table(folder / f"06_evaluation_{spec.suffix}.csv", spec.index_label)
              for spec in TABLES if (folder / f"06_evaluation_{spec.suffix}.csv").exists()}
    if any(r.get("seconds") is not None for r in job_records(root)):
        tables["cost"] = cost_table(root)
    return tables


def _figures(root: Path, seed_roots: list[Path]) -> list[tuple[str, list[tuple[Path, str]]]]:
    """(notebook, [(figure, caption)]) of the key figures that exist; a multi-seed run shows its first seed's."""
    out = []
    for notebook, names in KEY_FIGURES.items():
        folder = root if notebook == "06_evaluation" else seed_roots[0]
        seed = f" ({folder.name.replace('-', ' ')})" if folder != root else ""
        found = [folder / "figures" / f"{notebook}_{n}.png" for n in names]
        found = [(p, FIGURE_CAPTIONS.get(p.stem, p.stem) + seed) for p in found if p.exists()]
        if found:
            out.append((notebook, found))
    return out


def build_report(run_root: str | Path) -> Path:
    """Write ``report.html`` into the run folder and append the findings and evaluation tables to ``summary.md``."""
    root = Path(run_root)
    env = run_environment(root)  # environment.json, or a workflow's job files merged
    seed_roots = _seed_roots(root)
    n_seeds = len(env.get("seeds") or []) or len(seed_roots)
    tables = _tables(root)
    human = _read_json(metrics_file(root, "06_evaluation")).get("human")
    summary = findings(tables, env, n_seeds, human)

    sections, contents = [], [("summary", "Summary of findings")]
    for spec in TABLES:
        contents.append((spec.suffix, spec.heading))
        body = MISSING
        if len(tables.get(spec.suffix, ())):
            note = f'<p class="note">{esc(spec.note)}</p>' if spec.note else ""
            body = note + "".join(table_html(t) for t in display_tables(tables[spec.suffix], spec))
        sections.append(f'<section id="{esc(spec.suffix)}"><h2>{esc(spec.heading)}</h2>{body}</section>')
    cards = method_cards(root, tables)
    contents.append(("cards", "Method cards"))
    sections.append('<section id="cards"><h2>Method cards</h2><p class="note">One card per attribution method, '
                    "written from this run's numbers (after Saliency Cards, Boggust et al. 2023), in the order of the "
                    f'mean rank.</p><div class="cards">{cards_html(cards)}</div></section>' if cards else
                    f'<section id="cards"><h2>Method cards</h2>{MISSING}</section>')
    figures, number = ['<section id="figures"><h2>Key figures</h2>'], 0
    contents.append(("figures", "Key figures"))
    for notebook, found in _figures(root, seed_roots):
        figures.append(f'<h3 id="figures-{esc(notebook)}">{esc(NOTEBOOK_TITLES.get(notebook, notebook))}</h3>')
        for path, caption in found:
            number += 1
            figures.append(figure_html(path, number, caption))
    sections.append("".join(figures) + "</section>")
    links = [f'<li><a href="{esc(rel)}">{esc(rel)}</a></li>' for folder in [root, *[p for p in seed_roots if p != root]]
             for rel in (page.relative_to(root).as_posix() for page in sorted((folder / "html").glob("*.html")))]
    sections.append(f'<section id="notebooks"><h2>Executed notebooks</h2><ul>{"".join(links)}</ul></section>')
    packages = ", ".join(f"{k} {v}" for k, v in sorted((env.get("packages") or {}).items()))
    sections.append('<section id="provenance"><h2>Provenance</h2>'
                    + key_value_table([(k, env.get(k)) for k in PROVENANCE] + [("packages", packages)], "provenance")
                    + "</section>")
    contents += [("notebooks", "Executed notebooks"), ("provenance", "Provenance")]

    run_line = (f'<p class="run">Run <code>{esc(root.name)}</code>: profile {esc(env.get("profile"))}, seeds '
                f'{esc(env.get("seeds"))}, device {esc(env.get("device"))}, state {esc(env.get("state", "running"))}.</p>')
    page = page_html(f"XAI study {root.name}", ["<h1>XAI study report</h1>", run_line, summary_html(summary),
                                                contents_html(contents), *sections])
    out = root / "report.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    _append_to_summary(root, summary)
    return out


def _append_to_summary(root: Path, summary) -> None:
    """``summary.md`` (written by the runner) gets the findings and the Markdown tables of notebook 06."""
    folder = root / "tables"
    if not ((folder / "06_evaluation_checks.md").exists() and (root / "summary.md").exists()):
        return
    lines = ["", "## Summary of findings", "", *(f"- {f.text}" for f in summary), "",
             "## Evaluation tables (notebook 06)", ""]
    for spec in TABLES:
        # The cost is at the top of summary.md, as the runner measured it; 06's may be an earlier run's.
        if spec.suffix != "cost" and (folder / f"06_evaluation_{spec.suffix}.md").exists():
            lines += [f"### {spec.heading}", "", (folder / f"06_evaluation_{spec.suffix}.md").read_text(), ""]
    with open(root / "summary.md", "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
