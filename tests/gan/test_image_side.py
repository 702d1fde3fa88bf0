"""The side the GAN notebooks train at (28, 32 or 64 px) and a data set resized to it, antialiased."""
import pytest
import torch

from xai_helpers.data.datasets import ImageDataset
from xai_helpers.gan import gan_image_side, generate, resized_for_gan, train_gan


def _data(side, channels=3, n=6):
    x = torch.rand(n, channels, side, side, generator=torch.Generator().manual_seed(0))
    y = torch.arange(n) % 2
    return ImageDataset("tiny", x, y, x[:4].clone(), y[:4].clone(), ("a", "b"))


@pytest.mark.parametrize("side,expected", [(28, 28), (30, 28), (32, 32), (48, 32), (63, 32), (64, 64), (224, 64)])
def test_the_gan_side_is_the_images_own_or_the_largest_dcgan_side_below_it(side, expected):
    assert gan_image_side(side) == expected


def test_images_below_the_smallest_side_and_bad_sides_are_refused():
    with pytest.raises(ValueError, match=r"images of 16×16 px are smaller than the DCGAN's smallest side, 28 px"):
        gan_image_side(16)
    with pytest.raises(ValueError, match=r"side must be a positive int \(pixels\), got '64'"):
        gan_image_side("64")


def test_a_fitting_data_set_is_used_as_it_is_and_a_larger_one_resized():
    small = _data(32)
    assert resized_for_gan(small) is small
    big = _data(100)
    resized = resized_for_gan(big)
    assert resized.train_x.shape == (6, 3, 64, 64) and resized.test_x.shape == (4, 3, 64, 64)
    assert torch.equal(resized.train_y, big.train_y) and resized.classes == big.classes
    assert resized.info["resized_from"] == 100 and resized.fingerprint != big.fingerprint
    assert 0 <= resized.train_x.min() and resized.train_x.max() <= 1


def test_resizing_is_antialiased_so_fine_stripes_average_out():
    """One-pixel stripes at 224 px are grey at 64 px; plain bilinear sampling would alias them into bands."""
    stripes = (torch.arange(224) % 2).float().expand(224, 224)
    data = _data(224)
    data.train_x[:] = stripes
    out = resized_for_gan(data).train_x
    assert (out - 0.5).abs().max() < 0.05
    aliased = torch.nn.functional.interpolate(data.train_x[:1], size=(64, 64), mode="bilinear", antialias=False)
    assert (aliased - 0.5).abs().max() > 0.2, "the case is built so that a resize without antialiasing fails it"


def test_non_square_images_are_refused():
    data = ImageDataset("wide", torch.rand(2, 1, 64, 80), torch.arange(2), torch.rand(2, 1, 64, 80), torch.arange(2),
                        ("a", "b"))
    with pytest.raises(ValueError, match="square images; wide has 64×80"):
        resized_for_gan(data)


def test_a_gan_trains_on_a_224_px_folder_resized_to_64_px(tmp_path):
    data = resized_for_gan(_data(224, n=32))
    gan = train_gan(data, iterations=4, batch_size=8, z_dim=8, width=4, log_every=2, snapshot_every=2, seed=0,
                    device="cpu", progress="none", cache_dir=str(tmp_path))
    assert generate(gan.generator, 3, seed=0)[0].shape == (3, 3, 64, 64) and not gan.diverged
