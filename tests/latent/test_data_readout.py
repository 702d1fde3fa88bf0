"""Which read-outs 05 fits and judges its latent directions on (latent.semantic_readouts.data_readout): stroke
morphometry only where there are strokes."""
import torch
from torch import nn

from xai_helpers.cnn.models import PlainCNN
from xai_helpers.data import ImageDataset
from xai_helpers.latent import PROPERTIES, data_readout


def _data(name, channels=1, side=32, classes=("a", "b", "c")):
    x = torch.rand(6, channels, side, side)
    y = torch.arange(6) % len(classes)
    return ImageDataset(name, x, y, x, y, classes)


class _Regressor(nn.Module):
    """Stands in for the factor regressor: three shape logits and five factor values per image."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))  # read_factors finds the device by a parameter

    def forward(self, x):
        return torch.zeros(len(x), 3), torch.zeros(len(x), 5)


def test_digits_get_stroke_morphometry_and_the_logits():
    data = _data("mnist5k")
    semantics = data_readout(data, PlainCNN(1, 3, 32).eval())
    assert semantics.source == "stroke morphometry" and semantics.properties == PROPERTIES
    frame = semantics.readout(data.test_x)
    assert set(PROPERTIES) <= set(frame.columns) and "logit a" in frame.columns


def test_data_without_strokes_is_read_by_the_classifiers_logits_not_by_morphometry():
    """Built to fail on the code before: 05 applied digit_readout (morphometry) to every data set."""
    for data in (_data("fashion-mnist"), _data("imagefolder", channels=3), _data("shapes", side=64),
                 _data("mnist5k", channels=3)):  # colour digits: morphometry reads one gray stroke
        model = PlainCNN(data.image_shape[0], 3, data.image_shape[-1]).eval()
        semantics = data_readout(data, model, _Regressor())
        assert semantics.source == "classifier logits", data.name
        assert semantics.properties == ("logit a", "logit b", "logit c")
        assert list(semantics.readout(data.test_x).columns) == list(semantics.properties)
        assert not set(PROPERTIES) & set(semantics.readout(data.test_x).columns)
    assert "32 px only" in data_readout(_data("shapes", side=64), PlainCNN(1, 3, 64).eval()).why


def test_shapes_at_32_px_are_read_by_their_factors():
    data = _data("shapes")
    semantics = data_readout(data, PlainCNN(1, 3, 32).eval(), _Regressor())
    assert semantics.source == "factor regressor"
    assert list(semantics.readout(data.test_x).columns) == list(semantics.properties)
    assert data_readout(data, PlainCNN(1, 3, 32).eval()).source == "classifier logits"  # no regressor given


def test_the_dissected_bright_pixels_are_a_stroke_only_on_gray_digits():
    """05 called the pixels brighter than the middle 'stroke' on every data set, photographs included."""
    from xai_helpers.latent import drawn_concept

    assert drawn_concept(_data("mnist5k")) == "stroke"
    assert {drawn_concept(d) for d in (_data("imagefolder", channels=3), _data("shapes"), _data("mnist5k", channels=3))
            } == {"bright foreground"}
