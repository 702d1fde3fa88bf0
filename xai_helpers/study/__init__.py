"""The study's foundation, beneath every part: profiles and parameter checks, seeding and provenance, the
content-addressed model cache, the run folder (metrics, tables, figures, and reading a run's records back), progress
reporting and a notebook's session. What runs the whole study and reports on it stands above the parts
(:mod:`xai_helpers.running`, :mod:`xai_helpers.reporting`).

Figure helpers shared by all parts are in :mod:`xai_helpers.study.figures` (plotting is never imported here)."""
from ..lazy_exports import lazy_exports

# Imported when first used: the runner imports this package, and it starts without torch (reproducibility and
# session import it).
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    ".config": ("PROFILES", "resolve_config"),
    ".model_parameters": ("ModelSpec", "model_spec"),
    ".parameter_registry": ("CLASSIFIER_PARAMETERS", "MODEL_PARAMETERS", "PARAMETERS", "parameters_cell"),
    ".parameters": ("ParameterError", "check_fits_image", "check_values"),
    ".progress": ("progress_mode",),
    ".reproducibility": ("resolve_device", "seed_everything"),
    ".run_io": ("all_finite", "finite_or_none", "frame_dict", "resolve_cache_dir", "resolve_data_dir",
                "resolve_ratings_dir", "resolve_run_dir", "rounded", "save_figure", "save_table", "write_metrics"),
    ".session": ("Session", "start_notebook", "start_session"),
})
