"""Write the 224 px benchmark of README's times: 500 RGB images (4 classes × 125) and a ResNet-18 state dict.

    .venv/bin/python tools/make_224px_benchmark.py --out data/bench224
    ./run_all.sh --dataset imagefolder --data-dir data/bench224/images -p image_size 224 -p channels 3 \\
      -p model_source torchvision -p model_name resnet18 -p model_weights data/bench224/resnet18.pt --only 01 02

The images are the study's shapes (square, ellipse, triangle, and none) drawn at 224 px, tinted and laid over
textured colour backgrounds (:mod:`xai_helpers.data.colour`). The ResNet-18 is trained here for 10 epochs on the same
images at 64 px (it pools adaptively, so its weights take 224 px images; training at 224 px costs about 28 s per
epoch on 2 cores), and its batch norms' statistics are then measured again at 224 px. It is a weak model at 224 px
(about 30 % on its own images): the benchmark times 02's work per image, which does not depend on accuracy, and 02
fine-tunes its own planted-shortcut copy from these weights. Everything comes from ``--seed``; nothing is downloaded.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from xai_helpers.data.colour import colourise, write_imagefolder  # noqa: E402
from xai_helpers.data.datasets import render_shapes  # noqa: E402

CLASSES = ("square", "ellipse", "triangle", "blank")
SIDE = 224


def images(per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, 224, 224) images in [0, 1] and their labels: three shapes at random scales, angles and places, and
    an empty canvas."""
    rng = np.random.default_rng(seed)
    gray = []
    for shape in range(3):
        factors = np.stack([np.full(per_class, shape), rng.uniform(0.6, 1, per_class), rng.uniform(0, 6.28, per_class),
                            rng.uniform(0, 1, per_class), rng.uniform(0, 1, per_class)], 1)
        gray.append(torch.from_numpy(render_shapes(factors, SIDE, supersample=1)))
    gray.append(torch.zeros(per_class, SIDE, SIDE))
    return colourise(torch.cat(gray)[:, None], seed=seed), torch.arange(len(CLASSES)).repeat_interleave(per_class)


def trained_resnet18(x: torch.Tensor, y: torch.Tensor, seed: int, epochs: int = 10) -> torch.nn.Module:
    """A ResNet-18 trained on ``x`` resized to 64 px (Adam, batches of 32), batch norms re-measured at 224 px."""
    torch.manual_seed(seed)
    small = F.interpolate(x, size=64, mode="bilinear", antialias=True)
    net = torchvision.models.resnet18(num_classes=len(CLASSES))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(small))
        for i in range(0, len(small), 32):
            batch = order[i:i + 32]
            loss = F.cross_entropy(net(small[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}", flush=True)
    for module in net.modules():  # the statistics of 224 px activations: a cumulative average over one pass
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    with torch.no_grad():
        for i in range(0, len(x), 50):
            net(x[torch.randperm(len(x))[:50]])
    return net.eval()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for images/ and resnet18.pt")
    parser.add_argument("--per-class", type=int, default=125)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.per_class < 10:
        parser.error(f"--per-class {args.per_class} is too few: at least 10 images per class (train and test splits)")
    x, y = images(args.per_class, args.seed)
    write_imagefolder(x, y, CLASSES, args.out / "images")  # refuses a folder that already holds images
    net = trained_resnet18(x, y, args.seed)
    with torch.no_grad():
        accuracy = torch.cat([net(x[i:i + 50]).argmax(1) for i in range(0, len(x), 50)]).eq(y).float().mean()
    torch.save(net.state_dict(), args.out / "resnet18.pt")
    print(f"{len(x)} images in {args.out / 'images'}; ResNet-18 at 224 px: {accuracy:.1%} of them right; "
          f"weights in {args.out / 'resnet18.pt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
