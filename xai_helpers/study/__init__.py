"""The study's infrastructure, beneath every part: profiles and parameter checks, seeding and provenance, the
content-addressed model cache, the run folder (metrics, tables, figures), progress reporting, the report, and the
runner that executes the notebooks headless (:mod:`xai_helpers.study.runner`, ``./run_all.sh``).

Figure helpers shared by all parts are in :mod:`xai_helpers.study.figures` (plotting is never imported here)."""
from .config import PROFILES, resolve_config
from .model_parameters import MODEL_PARAMETERS, ModelSpec, model_spec
from .parameters import ParameterError, check_fits_image, check_values
from .progress import progress_mode
from .reproducibility import resolve_device, seed_everything
from .run_io import (all_finite, finite_or_none, frame_dict, resolve_cache_dir, resolve_data_dir, resolve_ratings_dir,
                     resolve_run_dir, rounded, save_figure, save_table, write_metrics)
from .session import start_notebook

__all__ = ["MODEL_PARAMETERS", "ModelSpec", "PROFILES", "model_spec", "ParameterError", "check_fits_image", "check_values",
           "all_finite", "finite_or_none", "frame_dict", "progress_mode",
           "resolve_cache_dir", "resolve_config", "resolve_data_dir", "resolve_device", "resolve_ratings_dir", "resolve_run_dir", "rounded",
           "save_figure", "save_table", "seed_everything", "start_notebook", "write_metrics"]
