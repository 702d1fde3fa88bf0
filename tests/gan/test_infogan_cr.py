"""InfoGAN-CR's contrastive regulariser (xai_helpers.gan.infogan_cr): pairs that share exactly one code, a classifier
that can only tell which when each code changes one thing, and the term inside GAN training."""
import pytest
import torch
from torch import nn

from xai_helpers.data.datasets import ImageDataset
from xai_helpers.gan import infogan_cr as CR
from xai_helpers.gan.train import train_gan


def test_pairs_share_exactly_the_drawn_code_and_nothing_else():
    z, other, k = CR.shared_code_pairs(z_dim=7, code_dim=4, n=500, generator=torch.Generator().manual_seed(0))
    same = z == other
    assert same[torch.arange(500), k].all()
    assert same.sum(1).eq(1).all()  # no other code and no noise entry agrees
    assert torch.bincount(k, minlength=4).min() > 90  # k uniform over the codes
    assert z[:, :4].abs().max() <= 1  # codes are U(-1, 1)


class _Painter(nn.Module):
    """A fixed generator: code j paints its own band of the image (disentangled), or codes 0 and 1 both paint the
    same band (entangled: the image shows only their sum, so a pair sharing one of them cannot say which)."""

    def __init__(self, code_dim=3, entangled=False):
        super().__init__()
        self.z_dim, self.code_dim = code_dim, code_dim
        masks = torch.zeros(code_dim, 1, 12, 12)
        for j in range(code_dim):
            band = 0 if entangled and j == 1 else j
            masks[j, 0, 4 * band:4 * band + 4, :] = 1.0
        self.register_buffer("masks", masks)

    def forward(self, z, y=None):
        return torch.einsum("nj,jchw->nchw", z[:, :self.code_dim], self.masks)


def _accuracy_after_training(g, steps=150):
    torch.manual_seed(0)
    h = CR.PairClassifier(1, g.code_dim, width=8)
    opt = torch.optim.Adam(h.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        loss, _ = CR.contrastive_loss(g, h, 64, gen, torch.device("cpu"))
        opt.zero_grad()
        loss.backward()
        opt.step()
    accuracy = [CR.contrastive_loss(g, h, 256, gen, torch.device("cpu"))[1] for _ in range(4)]
    return sum(accuracy) / len(accuracy)


def test_the_classifier_tells_the_shared_code_only_when_codes_act_separately():
    """The signal InfoGAN-CR gives G: a disentangled generator is rewarded with a low cross-entropy."""
    separate, entangled = _accuracy_after_training(_Painter()), _accuracy_after_training(_Painter(entangled=True))
    assert separate > 0.9 and entangled < 0.75, (separate, entangled)  # 1/3 + 2/3 · 1/2 at best


def _data(n=64):
    x = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    y = torch.zeros(n, dtype=torch.long)
    return ImageDataset("tiny", x, y, x[:8], y[:8], ("a",))


def test_training_with_the_contrastive_term_logs_it_and_is_its_own_cache_entry(tmp_path):
    common = dict(iterations=4, batch_size=16, z_dim=6, width=4, log_every=2, snapshot_every=4, device="cpu",
                  cache_dir=str(tmp_path), progress="none", info_codes=3)
    plain = train_gan(_data(), **common)
    with_cr = train_gan(_data(), cr_weight=1.0, **common)
    assert with_cr.key != plain.key
    assert "cr_accuracy" in with_cr.history[-1] and 0 <= with_cr.history[-1]["cr_accuracy"] <= 1
    assert "cr_loss" not in plain.history[-1]
    changed = [not torch.equal(a, b) for a, b in zip(with_cr.generator.parameters(), plain.generator.parameters())]
    assert any(changed)  # the contrastive term reached G
    for bad in (dict(cr_weight=-1.0), dict(cr_weight=1.0, info_codes=1), dict(cr_weight=1.0, info_codes=0)):
        with pytest.raises(ValueError, match="cr_weight"):
            train_gan(_data(), **{**common, **bad})
