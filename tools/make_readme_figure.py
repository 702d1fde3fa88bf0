"""Write README.md's figure from a finished run: 02's attributions on the planted patch beside 05's latent traversals,
each a figure the run itself drew (nothing is redrawn or retouched here).

    .venv/bin/python tools/make_readme_figure.py results/latest docs/figures/study_overview.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = (("02_cnn_attribution_planted_patch.png", "02: where 14 methods look, on a planted shortcut"),
          ("05_gan_latent_traversals.png", "05: what the GAN's latent directions change"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a run folder (its figures/ holds the panels), e.g. results/latest")
    p.add_argument("out", type=Path, help="the PNG to write")
    args = p.parse_args(argv)
    sources = [args.run / "figures" / name for name, _ in PANELS]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        print(f"make_readme_figure: error: {', '.join(missing)} not found; run notebooks 02 and 05 first",
              file=sys.stderr)
        return 2
    images = [plt.imread(s) for s in sources]
    widths = [img.shape[1] / img.shape[0] for img in images]  # each panel at the same height
    fig, axes = plt.subplots(1, 2, figsize=(10 * sum(widths) + 0.6, 10.6), gridspec_kw={"width_ratios": widths})
    for ax, img, (_, title) in zip(axes, images, PANELS):
        ax.imshow(img)
        ax.set_title(title, fontsize=11)
        ax.axis("off")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
