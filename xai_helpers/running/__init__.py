"""The roof, first half: what runs the whole study. The headless runner (:mod:`.runner`, ``./run_all.sh``,
``python -m xai_helpers.runner``) checks every parameter before anything runs, executes each notebook in its own
papermill process (:mod:`.notebook_job`), reuses a notebook's results when nothing they depend on changed
(:mod:`.notebook_reuse`) and writes the run's summary (:mod:`.run_summary`); :mod:`.workflow` gives Snakemake the same
jobs; :mod:`.jupyter_lab` starts JupyterLab on the notebooks (``./run_all.sh --lab``).

It stands above every part and imports from them; no notebook and no part imports it. It starts without torch, so
``--help`` and a refused parameter answer at once."""
