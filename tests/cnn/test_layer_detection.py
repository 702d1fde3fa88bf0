"""Finding the layers Grad-CAM, channels and TCAV use (xai_helpers.cnn.layer_detection)."""
import pytest
import torch
import torchvision

from xai_helpers.cnn import explain
from xai_helpers.cnn.captum_ready import ImageClassifier, make_captum_ready
from xai_helpers.cnn.layer_detection import MIN_CAM_SIDE, choose_layers, feature_maps, gradcam_map, layer_table
from xai_helpers.cnn.models import AttentionCNN, PlainCNN, torchvision_classifier


def _torchvision(name, side):
    return torchvision_classifier(name, 3, 10, side).eval()


@pytest.mark.parametrize("side, expected, cells", [(32, "layer1", 8), (64, "layer2", 8), (224, "layer4", 7)])
def test_resnet18_gradcam_takes_the_deepest_stage_of_at_least_7x7(side, expected, cells):
    choice = choose_layers(_torchvision("resnet18", side), (3, side, side))
    assert choice.gradcam == expected and (choice.cam_map.height, choice.cam_map.width) == (cells, cells)
    assert choice.channels[0] == "relu" and choice.channels[-1] == "layer4"  # the stem's ReLU, the last stage
    assert choice.tcav == choice.channels and choice.detected


@pytest.mark.parametrize("name, side", [("resnet18", 64), ("mobilenet_v3_small", 224), ("mobilenet_v3_small", 64),
                                        ("vgg11", 224), ("vgg11", 64)])
def test_the_gradcam_map_is_the_deepest_one_still_at_least_7x7(name, side):
    model = _torchvision(name, side)
    maps = choose_layers(model, (3, side, side)).maps
    choice = choose_layers(model, (3, side, side))
    chosen = [m for m in maps if m.name == choice.gradcam]
    assert len(chosen) == 1 and chosen[0].side >= MIN_CAM_SIDE
    assert all(m.side < MIN_CAM_SIDE for m in maps[chosen[0].order + 1:])
    # It is a module of the model, and Grad-CAM through explain() reads it.
    assert choice.module(model, choice.gradcam) is model.net.get_submodule(choice.gradcam)
    model.layers = {"gradcam": choice.gradcam}
    attr = explain(model, torch.rand(2, 3, side, side), 1, "grad_cam")
    assert attr.shape == (2, 3, side, side) and attr.min() >= 0


def test_the_outermost_module_returning_a_map_names_it():
    names = [m.name for m in feature_maps(_torchvision("resnet18", 64), (3, 64, 64))]
    # In a block the ReLU's first call is a map of its own; its second call ends the block, the stage ends with
    # the last block: those are named by the block and the stage.
    expected = ["net.relu"]
    for stage in range(1, 5):
        expected += [f"net.layer{stage}.0.relu", f"net.layer{stage}.0", f"net.layer{stage}.1.relu", f"net.layer{stage}"]
    assert names == expected


def test_mobilenet_and_vgg_at_224_px():
    mobilenet = choose_layers(_torchvision("mobilenet_v3_small", 224), (3, 224, 224))
    assert mobilenet.gradcam == "features" and mobilenet.cam_map.side == 7
    vgg = choose_layers(_torchvision("vgg11", 224), (3, 224, 224))
    assert vgg.gradcam == "features.19" and vgg.cam_map.side == 14  # the last ReLU; the max-pool after it is no map
    assert vgg.channels == ("features.1", "features.19")


def test_the_study_cnns_rule_agrees_with_the_plain_cnns_declared_layer_and_the_attention_cnn_keeps_its_own():
    plain = PlainCNN().eval()
    maps = feature_maps(plain, (1, 28, 28))
    assert gradcam_map(maps).name == "features.12" and plain.features[12] is plain.cam_layer
    attention = AttentionCNN().eval()
    # The rule alone would take the attention module's own map (a sigmoid after a convolution) ...
    assert gradcam_map(feature_maps(attention, (1, 28, 28))).name == "attention"
    choice = choose_layers(attention, (1, 28, 28))  # ... the declared cam_layer wins
    assert choice.gradcam == "stem.12" and not choice.detected


def test_a_model_without_a_large_enough_map_gets_its_largest_deepest_one():
    choice = choose_layers(_torchvision("resnet18", 16), (3, 16, 16))  # maps 8, 4, 4, 2, 1
    assert choice.gradcam == "relu" and choice.cam_map.side == 8
    assert choose_layers(_torchvision("resnet18", 8), (3, 8, 8)).cam_map.side == 4


def test_names_given_override_and_bad_names_are_refused_with_the_maps():
    model = _torchvision("resnet18", 64)
    choice = choose_layers(model, (3, 64, 64), gradcam_layer="layer3", tcav_layers=["layer1", "layer4"])
    assert choice.gradcam == "layer3" and choice.cam_map.side == 4 and choice.tcav == ("layer1", "layer4")
    assert not choice.detected
    table = layer_table(choice)
    assert table.loc["layer3", "used_for"].startswith("Grad-CAM") and table.loc["layer3", "height"] == 4
    with pytest.raises(ValueError, match=r"gradcam_layer: .*no module named 'layer9'.*feature maps: relu, layer1"):
        choose_layers(model, (3, 64, 64), gradcam_layer="layer9")
    with pytest.raises(ValueError, match=r"tcav_layers: .*'relu2'"):
        choose_layers(model, (3, 64, 64), tcav_layers=["relu2"])
    with pytest.raises(ValueError, match=r"gradcam_layer 'fc' outputs shape \(1, 10\), not a feature map"):
        choose_layers(model, (3, 64, 64), gradcam_layer="fc")


def test_a_model_without_convolutions_has_no_map():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    model = ImageClassifier(net, in_channels=3, net_channels=3)
    make_captum_ready(net, torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="has no feature map"):
        choose_layers(model, (3, 4, 4))
