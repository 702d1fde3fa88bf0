"""The study's jobs and what each waits for, defined once. The runner runs the per-seed notebooks for every seed and
then the study-level ones once; ``workflow/Snakefile`` makes one rule per job from this table; the tests read it.

A job needs another when it takes that one's model or GAN from the cache (found by its configuration), so the
order matters although no file is passed."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    notebook: str
    rule: str  # the Snakemake rule's name (an identifier)
    needs: tuple[str, ...] = ()  # notebooks whose results must exist first
    per_seed: bool = True  # False: once per data set over all its seeds, in the data set's folder


_PER_SEED = (
    Job("01_cnn_training", "cnn_training"),
    Job("02_cnn_attribution", "cnn_attribution", ("01_cnn_training",)),
    Job("03_tcav", "tcav", ("01_cnn_training",)),
    Job("04_gan_dynamics", "gan_dynamics", ("01_cnn_training",)),
    Job("05_gan_latent", "gan_latent", ("04_gan_dynamics",)),
)
#: Every job of the workflow, in an order that respects ``needs``. (07, the explorer, is interactive: the runner
#: runs it per seed for its static views, the workflow leaves it out.)
JOBS = (*_PER_SEED, Job("06_evaluation", "evaluation", tuple(j.notebook for j in _PER_SEED), per_seed=False))
PER_SEED = tuple(j for j in JOBS if j.per_seed)
PER_DATASET = tuple(j for j in JOBS if not j.per_seed)
#: Notebooks about the whole study rather than one seed: they run once, after every seed's notebooks, with the run
#: folder itself as ``run_dir`` (where they find the ``seed-N/`` folders of a multi-seed run) and the first seed.
STUDY_LEVEL = tuple(j.notebook for j in PER_DATASET)
