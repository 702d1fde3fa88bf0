"""Issue 33, target 3 end to end: torchvision's ViT-B/16 (built for 64 px) and Swin-T, trained here on a generated 64 px
RGB folder, through 01, 02 and 03 at smoke with few images: Grad-CAM on their token maps, attention rollout and
Integrated Gradients explain them, with the planted-patch pointing games recorded; LRP is left out with the reason;
TCAV probes their blocks."""
import math
import os

import pytest
from test_own_model import EXPLAIN, TCAV, _imagefolder, _run  # the same folder and settings as issue 18's

#: Run with -m slow (CI does). ViT-B/16 and Swin-T took 20 minutes together on 2 cores (2026-12-06), most of it in
#: 02's fixed costs (the randomisation cascade, max-sensitivity, fine-tuning the shortcut copy): CI runs Swin-T alone
#: (about 10 minutes), and tests/cnn/test_transformers.py covers what is ViT's own (its grid, its last block, rollout).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    base = tmp_path_factory.mktemp("transformers")
    _imagefolder(base / "images")
    return base


@pytest.mark.parametrize("name, gradcam", [
    pytest.param("vit_b_16", "encoder.layers.encoder_layer_10.token_grid.map", marks=pytest.mark.skipif(
        not os.environ.get("XAI_TEST_VIT"), reason="10 minutes more: set XAI_TEST_VIT=1 (passed on 2026-12-06)")),
    ("swin_t", "features.3.1.token_grid.map")])
def test_a_vision_transformer_runs_through_01_02_03(folder, name, gradcam):
    metrics, _ = _run(folder, name, "-p", "model_source", "torchvision", "-p", "model_name", name, *EXPLAIN, *TCAV,
                      only=("01", "02", "03"))
    m01, m02, m03 = (metrics[k] for k in ("01_cnn_training", "02_cnn_attribution", "03_tcav"))
    assert name in m01["explained_model"] and m02["classifier_checkpoint"] == m01["classifier_checkpoint"]
    assert {"grad_cam", "attention_rollout", "integrated_gradients"} <= set(m02["methods"]) - set(m02["skipped_methods"])
    for method in ("grad_cam", "attention_rollout", "integrated_gradients"):
        row = m02["methods"][method]
        assert math.isfinite(row["pointing_game"]) and 0 < row["pointing_chance"] < 1, (method, row)
    assert m02["layers"]["gradcam"] == gradcam
    assert "AttnLRP" in m02["skipped_methods"]["lrp"]
    assert set(m03["layers"].values()) and all(".token_grid.map" in layer for layer in m03["layers"].values())
