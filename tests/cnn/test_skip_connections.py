"""Issue 33, target 8: the cascade on a ResNet with its skip connections cut (cnn/skip_connections.py)."""
import pytest
import torch
import torch.nn.functional as F

from xai_helpers.cnn import explain, residual_blocks, without_skips
from xai_helpers.cnn.models import PlainCNN, torchvision_classifier


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return torchvision_classifier("resnet18", 3, 4, 32).eval()


def test_a_cut_block_outputs_its_residual_branch_alone_and_the_original_is_untouched(resnet):
    cut = without_skips(resnet)
    x = torch.rand(2, 3, 32, 32)
    block, original_block = residual_blocks(cut)[3], residual_blocks(resnet)[3]
    seen = {}
    original_block.register_forward_hook(lambda m, a, out: seen.update(x=a[0], out=out))
    with torch.no_grad():
        before = resnet(x)
        after = cut(x)
        branch = F.relu(block.bn2(block.conv2(F.relu(block.bn1(block.conv1(seen["x"]))))))
        skipped = block(seen["x"])
    assert torch.allclose(skipped, branch) and not torch.allclose(seen["out"], branch)
    assert not torch.allclose(before, after)  # another function: no path around a block
    with torch.no_grad():
        assert torch.allclose(resnet(x), before)  # the model itself keeps its skips
    assert len(residual_blocks(cut)) == 8 and not any(b._forward_hooks for b in residual_blocks(resnet)[:3])


def test_the_cut_survives_the_copies_that_explanations_make(resnet):
    cut = without_skips(resnet)
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    expected_grad = torch.autograd.grad(cut(x)[:, 1].sum(), x)[0].abs()
    # explain() folds batch norms into a copy: the cut must hold there too (the hook recomputes from current modules)
    assert torch.allclose(explain(cut, x.detach(), 1, "saliency"), expected_grad, atol=1e-5)


def test_a_network_without_residual_blocks_is_refused():
    with pytest.raises(ValueError, match="PlainCNN has no residual blocks"):
        without_skips(PlainCNN(width=4, hidden=8, image_size=8))
