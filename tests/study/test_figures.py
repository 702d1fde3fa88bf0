"""Figure helpers every part shares."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from xai_helpers.study.figures import as_image, image_grid  # noqa: E402


def test_images_become_what_imshow_wants():
    gray, cmap = as_image(torch.full((1, 4, 5), 0.5))
    assert gray.shape == (4, 5) and cmap == "gray"
    colour, cmap = as_image(torch.tensor([2.0, -1.0, 0.5])[:, None, None].expand(3, 4, 5))
    assert colour.shape == (4, 5, 3) and cmap is None
    assert colour[0, 0].tolist() == [1.0, 0.0, 0.5]  # clipped to [0, 1] channel by channel


def test_image_grid_titles_each_image_and_hides_empty_cells():
    fig = image_grid(torch.rand(5, 3, 8, 8), titles=list("abcde"), ncols=3, title="five")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 6 and len(shown) == 5
    assert [ax.get_title() for ax in shown] == list("abcde") and fig._suptitle.get_text() == "five"
    plt.close(fig)
