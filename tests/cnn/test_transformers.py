"""Issue 33, target 3: torchvision's ViT and Swin as the study's other classifiers are: built for the data's side, their
blocks seen as feature maps (Grad-CAM, channels, TCAV) without changing the function or the weights' names, and
attention rollout, checked against torch's own attention weights and against Swin's own attention output."""
import math

import pytest
import torch
import torchvision
from torch import nn

from xai_helpers.cnn import METHODS, explain, offered_methods
from xai_helpers.cnn.attention_rollout import (_swin_events, merge_matrix, mha_weights, mixing, transformer_of,
                                               window_attention_matrix)
from xai_helpers.cnn.layer_detection import choose_layers
from xai_helpers.cnn.models import PlainCNN, torchvision_classifier
from xai_helpers.cnn.token_maps import TokenGrid, TokenMap


@pytest.fixture(scope="module")
def vit():
    torch.manual_seed(0)
    return torchvision_classifier("vit_b_16", 3, 4, 64).eval()


@pytest.fixture(scope="module")
def swin():
    torch.manual_seed(0)
    return torchvision_classifier("swin_t", 3, 4, 64).eval()


@pytest.mark.parametrize("name", ["vit_b_16", "swin_t"])
def test_token_grids_change_neither_the_function_nor_the_weights_names(name, vit, swin):
    model = {"vit_b_16": vit, "swin_t": swin}[name]
    plain = torchvision.models.get_model(name, weights=None, num_classes=4,
                                         **({"image_size": 64} if name.startswith("vit") else {})).eval()
    assert set(plain.state_dict()) == set(model.net.state_dict())  # a cached or user's state dict still loads
    with torch.no_grad():
        nn.init.normal_(model.net.state_dict()[next(k for k in plain.state_dict() if "head" in k)])
        plain.load_state_dict(model.net.state_dict())
        x = torch.rand(2, 3, 64, 64)
        assert torch.allclose(model(x), plain(x), atol=1e-5)
    assert any(isinstance(m, TokenMap) for m in model.modules())


def test_a_vit_is_built_for_the_data_side_and_its_feature_maps_are_its_blocks_but_the_last(vit):
    assert transformer_of(vit).image_size == 64
    choice = choose_layers(vit, (3, 64, 64))
    assert [(m.channels, m.height, m.width) for m in choice.maps] == [(768, 4, 4)] * 11  # 12 blocks, the last left out
    assert choice.gradcam == "encoder.layers.encoder_layer_10.token_grid.map"
    # why the last block is left out: only its class token reaches the head, so its patch tokens get no gradient
    last = transformer_of(vit).encoder.layers[-1]
    kept = []

    def keep(module, args, out):  # returns None: the output stays as it is
        out.retain_grad()
        kept.append(out)

    handle = last.register_forward_hook(keep)
    nn.init.normal_(transformer_of(vit).heads.head.weight)  # the zero-initialised head would pass no gradient at all
    try:
        vit(torch.rand(1, 3, 64, 64))[0, 0].backward()
    finally:
        handle.remove()
    assert kept[0].grad[:, 1:].abs().max() == 0 and kept[0].grad[:, 0].abs().max() > 0


def test_tcav_reads_a_vits_class_token_after_the_first_middle_and_last_block(vit, swin):
    """Issue 33, target 3: TCAV on the class token, the summary the head classifies (it read patch-token maps)."""
    choice = choose_layers(vit, (3, 64, 64))
    assert choice.tcav == tuple(f"encoder.layers.encoder_layer_{i}.token_grid.cls" for i in (0, 6, 11))
    net, x = transformer_of(vit), torch.rand(2, 3, 64, 64)
    seen = {}
    hooks = [net.encoder.layers[-1].token_grid.cls.register_forward_hook(lambda m, a, o: seen.update(cls=o)),
             net.encoder.register_forward_hook(lambda m, a, o: seen.update(encoded=o))]
    try:
        with torch.no_grad():
            vit(x)
    finally:
        for h in hooks:
            h.remove()
    # the last block's class token, through the encoder's final LayerNorm, is what the head reads
    assert seen["cls"].shape == (2, 1, 768)
    assert torch.allclose(net.encoder.ln(seen["cls"])[:, 0], seen["encoded"][:, 0], atol=1e-5)
    assert choose_layers(swin, (3, 64, 64)).tcav[-1] == "features.7.1.token_grid.map"  # no class token: its grids


def test_swin_stages_are_read_channels_last_not_as_channels(swin):
    choice = choose_layers(swin, (3, 64, 64))
    assert [(m.channels, m.height, m.width) for m in choice.maps] == [(96, 16, 16), (192, 8, 8), (384, 4, 4),
                                                                       (768, 2, 2)]
    assert choice.gradcam == "features.3.1.token_grid.map"  # the deepest of at least 7 cells
    with pytest.raises(ValueError, match="layout = 'rows' is not allowed"):
        TokenGrid("rows")


def test_grad_cam_and_rollout_explain_transformers_and_rollout_is_offered_to_them_only(vit, swin):
    x = torch.rand(2, 3, 64, 64)
    for model in (vit, swin):
        model.layers = {"gradcam": choose_layers(model, (3, 64, 64)).gradcam}  # as attach_layers does
        assert "attention_rollout" in offered_methods(model)
        for method in ("grad_cam", "attention_rollout", "integrated_gradients"):
            attr = explain(model, x, torch.tensor([0, 1]), method, **({"n_steps": 4} if "integ" in method else {}))
            assert attr.shape == x.shape and torch.isfinite(attr).all()
    cnn = PlainCNN(width=4, hidden=8, image_size=8)
    assert "attention_rollout" not in offered_methods(cnn) and len(offered_methods(cnn)) == len(METHODS) - 1
    with pytest.raises(ValueError, match="attention rollout needs a vision transformer's attention"):
        explain(cnn, torch.rand(1, 1, 8, 8), 0, "attention_rollout")


def test_our_attention_weights_equal_torchs_own(vit):
    block = transformer_of(vit).encoder.layers[3]
    tokens = torch.randn(2, 17, 768)
    _, expected = block.self_attention(tokens, tokens, tokens, need_weights=True, average_attn_weights=True)
    assert torch.allclose(mha_weights(block.self_attention, tokens), expected, atol=1e-6)


def test_swins_window_attention_laid_on_the_grid_reproduces_its_own_output():
    """Per head, the (h·w)×(h·w) matrix times the values, projected, must give torchvision's shifted-window
    attention output exactly: a wrong window order, shift or padding breaks it."""
    from torchvision.models.swin_transformer import ShiftedWindowAttention

    torch.manual_seed(0)
    attn = ShiftedWindowAttention(32, [7, 7], [3, 3], num_heads=2).eval()
    with torch.no_grad():
        attn.qkv.weight.mul_(20)  # peaked attention, not the near-uniform one of a fresh init
        attn.qkv.bias.zero_()  # no padding tokens here, but keep the values a pure function of the tokens
    x = torch.randn(1, 14, 14, 32)
    with torch.no_grad(), _swin_events(attn) as events:
        out = attn(x)
    probs, tokens = events[0]["probs"], x.reshape(1, 196, 32)
    v = nn.functional.linear(tokens, attn.qkv.weight[64:]).view(1, 196, 2, 16)
    heads = [window_attention_matrix(probs[:, h:h + 1], (14, 14), [7, 7], [3, 3]) @ v[:, :, h] for h in range(2)]
    rebuilt = attn.proj(torch.cat(heads, -1)).view(1, 14, 14, 32)
    assert torch.allclose(rebuilt, out, atol=1e-5)
    full = window_attention_matrix(probs, (14, 14), [7, 7], [3, 3])
    assert torch.allclose(full.sum(-1), torch.ones(1, 196), atol=1e-5)  # no padding: every row a distribution


def test_rollout_pieces_mixing_and_merging():
    a = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])
    assert torch.allclose(mixing(a), torch.tensor([[[0.5, 0.5], [0.5, 0.5]]]))
    m = merge_matrix((3, 4))
    assert m.shape == (2 * 2, 12) and torch.allclose(m.sum(1), torch.ones(4))
    assert m[0].nonzero().flatten().tolist() == [0, 1, 4, 5] and m[2].nonzero().flatten().tolist() == [8, 9]
    assert math.isclose(float(m[2, 8]), 0.5)


def test_lrp_on_a_vision_transformer_is_refused_with_the_reason(vit):
    with pytest.raises(ValueError, match="LRP cannot explain VisionTransformer: a vision transformer needs AttnLRP"):
        explain(vit, torch.rand(1, 3, 64, 64), 0, "lrp")
