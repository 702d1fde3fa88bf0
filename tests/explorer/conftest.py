"""The study's models at the smoke profile, shared by the explorer tests (trained once into the session's cache,
which the notebooks' nbval runs share, so later runs load them)."""
import os

import pytest

from xai_helpers.data import load_dataset
from xai_helpers.explorer import load_study_models
from xai_helpers.study import resolve_config


@pytest.fixture(scope="session")
def smoke_models():
    config = resolve_config("smoke")
    data = load_dataset("mnist5k", train_limit=config["train_limit"], test_limit=config["test_limit"])
    return load_study_models(data, config, seed=0, device="cpu", cache_dir=os.environ["XAI_CACHE_DIR"], gan=True)


@pytest.fixture
def answered(smoke_models, tmp_path):
    """``answered(App)``: an explorer on the smoke models, exporting into tmp_path, with its first answer in."""
    def make(app_class, **kwargs):
        app = app_class(smoke_models, run_path=tmp_path, **kwargs)
        app.request()
        return app.wait()
    return make
