"""The study's foundation, beneath every part: profiles and parameter checks, seeding and provenance, the
content-addressed model cache, the run folder (metrics, tables, figures, and reading a run's records back), progress
reporting and a notebook's session. What runs the whole study and reports on it stands above the parts
(:mod:`xai_helpers.running`, :mod:`xai_helpers.reporting`).

Figure helpers shared by all parts are in :mod:`xai_helpers.study.figures` (plotting is never imported here)."""
from ..lazy_exports import lazy_exports

# Imported when first used: the runner imports this package, and it starts without torch (reproducibility and
# session import it).
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    ".cache": ("discard",),
    ".cell_timings": ("describe_cell", "slowest_cells", "timed_cells"),
    ".code_version": ("runnable_source", "source_fingerprint"),
    ".config": ("PROFILES", "profile_name", "resolve_config"),
    ".model_parameters": ("ModelSpec", "model_spec", "resolve_path"),
    ".parameter_registry": ("CLASSIFIER_PARAMETERS", "MODEL_PARAMETERS", "PARAMETERS", "parameters_cell"),
    ".parameters": ("ParameterError", "check_fits_image", "check_values"),
    ".progress": ("forms_wanted", "headless", "progress_mode"),
    ".reproducibility": ("RESULT_PATHS", "git_sha", "provenance", "resolve_device", "seed_everything",
                         "with_global_rng_restored"),
    ".run_io": ("DEFAULT_CACHE_DIR", "REPO_ROOT", "all_finite", "finite_or_none", "frame_dict", "resolve_cache_dir",
                "resolve_data_dir", "resolve_ratings_dir", "resolve_run_dir", "rounded", "save_figure", "save_table",
                "user_path", "write_json_atomic", "write_metrics"),
    ".run_layout": ("RUN_SUBDIRS", "log_file", "metrics_file", "seed_folder", "seed_folders"),
    ".run_records": ("cost_table", "job_records", "run_environment", "runner_gone", "runner_identity"),
    ".safe_load": ("SAVE_ADVICE", "refusal"),
    ".session": ("Session", "start_notebook", "start_session"),
})
