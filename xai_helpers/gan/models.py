"""DCGAN generator and discriminator (Radford et al. 2016), unconditional or class-conditional.

The architecture follows the paper: the generator projects z to a small feature map and doubles its side with
strided 4×4 transposed convolutions (batch norm + ReLU between them, tanh at the end); the discriminator halves
the side with strided convolutions (4×4; the last one 3×3 for 28×28 images, since 7 → 4 needs it; LeakyReLU 0.2,
batch norm except after the first) and ends in one logit. 28×28: 7 → 14 → 28; 32×32: 4 → 8 → 16 → 32; 64×64 (for
larger images, resized: :mod:`xai_helpers.gan.image_side`): 4 → 8 → 16 → 32 → 64, with one more block in each
network, as in the paper's 64 px DCGAN. The 28 and 32 px networks are the same modules as before 64 px existed.
Images live in [-1, 1].

InfoGAN (Chen et al. 2016; ``code_dim > 0``): the first ``code_dim`` entries of z are structured codes c drawn
from U(−1, 1) (the rest stays N(0, 1) noise), and the discriminator grows a head Q(c | x) that predicts them; a
continuous code with a fixed-variance Gaussian Q makes the mutual-information bound an MSE term.

Conditioning (``num_classes > 0``) is the plain cGAN recipe of Mirza & Osindero (2014): the generator gets
one-hot(y) concatenated to z, the discriminator gets one-hot(y) as constant image planes concatenated to x.

Each nonlinearity is its own module used once, so captum's hooks (Guided Backprop, DeepLift) see them all.
These classes live apart from the classifiers so that GAN edits do not change the classifiers' cache keys.
"""
from __future__ import annotations

import torch
from torch import nn


#: The image sides the DCGAN is built for, and per side the generator's start map and its number of upsamplings.
GAN_SIDES = {28: (7, 2), 32: (4, 3), 64: (4, 4)}


def _check(image_size: int, channels: int, num_classes: int) -> None:
    if image_size not in GAN_SIDES:
        raise ValueError(f"DCGAN image_size must be one of {', '.join(map(str, GAN_SIDES))}, got {image_size!r}")
    if channels not in (1, 3):
        raise ValueError(f"DCGAN channels must be 1 or 3, got {channels!r}")
    if not isinstance(num_classes, int) or num_classes < 0:
        raise ValueError(f"num_classes must be 0 (unconditional) or a positive int, got {num_classes!r}")


def _check_codes(code_dim: int, z_dim: int | None = None) -> None:
    if not isinstance(code_dim, int) or isinstance(code_dim, bool) or code_dim < 0:
        raise ValueError(f"code_dim must be 0 (no InfoGAN codes) or a positive int, got {code_dim!r}")
    if z_dim is not None and code_dim > z_dim:
        raise ValueError(f"code_dim {code_dim} exceeds z_dim {z_dim}: the codes are the first entries of z")


def sample_latent(z_dim: int, n: int, generator: torch.Generator | None = None, code_dim: int = 0) -> torch.Tensor:
    """n latents: the first ``code_dim`` entries U(−1, 1) InfoGAN codes, the rest N(0, 1).

    With ``code_dim=0`` this is exactly ``torch.randn(n, z_dim, generator=generator)``, so plain GANs draw the
    same numbers as before InfoGAN existed."""
    _check_codes(code_dim, z_dim)
    z = torch.randn(n, z_dim, generator=generator)
    if code_dim:
        z[:, :code_dim] = torch.rand(n, code_dim, generator=generator) * 2 - 1
    return z


def one_hot(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One-hot rows (N, num_classes) by comparison, not ``F.one_hot``: that one reads the labels' maximum with
    ``.item()``, which ``torch.func.vmap`` (per-sample Jacobians) cannot trace."""
    return (y.long()[:, None] == torch.arange(num_classes, device=y.device)).float()


def _labels_needed(num_classes: int, y) -> torch.Tensor | None:
    if num_classes and y is None:
        raise ValueError(f"this GAN is class-conditional ({num_classes} classes): pass labels y")
    if not num_classes and y is not None:
        raise ValueError("this GAN is unconditional: do not pass labels y")
    return y


class DCGANGenerator(nn.Module):
    """z (N, z_dim) [and labels y (N,)] → images (N, C, S, S) in [-1, 1]."""

    def __init__(self, z_dim: int = 64, out_channels: int = 1, image_size: int = 28, width: int = 32,
                 num_classes: int = 0, code_dim: int = 0):
        super().__init__()
        _check(image_size, out_channels, num_classes)
        _check_codes(code_dim, z_dim)
        self.z_dim, self.image_size, self.out_channels, self.num_classes = z_dim, image_size, out_channels, num_classes
        #: How many leading entries of z are InfoGAN codes (U(−1, 1)); 0 for a plain GAN.
        self.code_dim = code_dim
        self.start, ups = GAN_SIDES[image_size]
        self.start_channels = width * 2 ** (ups - 1)
        n = self.start_channels * self.start ** 2
        self.project = nn.Sequential(nn.Linear(z_dim + num_classes, n, bias=False), nn.BatchNorm1d(n), nn.ReLU())
        layers: list[nn.Module] = []
        c = self.start_channels
        for _ in range(ups - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ConvTranspose2d(c, out_channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if _labels_needed(self.num_classes, y) is not None:
            z = torch.cat([z, one_hot(y, self.num_classes).to(z)], 1)
        h = self.project(z).view(-1, self.start_channels, self.start, self.start)
        return self.net(h)


class DCGANDiscriminator(nn.Module):
    """images (N, C, S, S) in [-1, 1] [and labels y (N,)] → one logit per image (N,).

    With ``code_dim > 0`` it also has InfoGAN's Q head on the shared features: :meth:`forward_with_codes`."""

    def __init__(self, in_channels: int = 1, image_size: int = 28, width: int = 32, num_classes: int = 0,
                 code_dim: int = 0):
        super().__init__()
        _check(image_size, in_channels, num_classes)
        _check_codes(code_dim)
        self.image_size, self.num_classes, self.code_dim = image_size, num_classes, code_dim
        w = width
        last_kernel = 3 if image_size == 28 else 4  # 7 → 4 needs a 3×3 kernel; 8 → 4 a 4×4 one
        blocks = [nn.Conv2d(in_channels + num_classes, w, 4, 2, 1), nn.LeakyReLU(0.2),
                  nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2)]
        if image_size == 64:  # 64 → 32 → 16 → 8 → 4: one more halving block
            blocks += [nn.Conv2d(2 * w, 4 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2)]
            w *= 2
        blocks += [nn.Conv2d(2 * w, 4 * w, last_kernel, 2, 1, bias=False), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*blocks)
        #: Index of the 7×7 or 8×8 map in :attr:`features`, for Grad-CAM (see :attr:`cam_layer`).
        self._cam_index = 7 if image_size == 64 else 4
        self.head = nn.Linear(4 * w * 4 * 4, 1)
        self.code_head = nn.Linear(4 * w * 4 * 4, code_dim) if code_dim else None

    def _features(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if _labels_needed(self.num_classes, y) is not None:
            planes = one_hot(y, self.num_classes).to(x)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, x.shape[2], x.shape[3])], 1)
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self._features(x, y)).squeeze(1)

    def forward_with_codes(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """(logit (N,), predicted InfoGAN codes (N, code_dim)) from one pass through the shared features."""
        if self.code_head is None:
            raise ValueError("this discriminator has no InfoGAN code head (code_dim=0)")
        h = self._features(x, y)
        return self.head(h).squeeze(1), self.code_head(h)

    @property
    def cam_layer(self) -> nn.Module:
        """The last feature map above 4×4 (its LeakyReLU; 7×7 for 28×28 images, 8×8 for 32×32 and 64×64), for
        Grad-CAM.

        Not the last one: at 4×4, a Grad-CAM cell covers a quarter of a digit's width and the maps say little."""
        return self.features[self._cam_index]


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.'s initialisation: conv weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
