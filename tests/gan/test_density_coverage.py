"""Density and coverage (Naeem et al. 2020) through prdc, the paper's code: a case worked by hand, the paper's
identity case, and bad input refused."""
import numpy as np
import pytest

from xai_helpers.gan.density_coverage import density_coverage


def test_a_case_worked_by_hand():
    """Real points 0, 1, 2, 3, 10 on a line, k = 1: balls of radius 1, 1, 1, 1 and 7. The generated 0.5 lies in the
    balls of 0 and 1, the generated 10 in the ball of 10, the outlier 100 in none: density (2 + 1 + 0) / (1 · 3) = 1;
    the real 0, 1 and 10 hold a generated point, 2 and 3 do not: coverage 3 / 5."""
    real = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    fake = np.array([[0.5], [10.0], [100.0]])
    assert density_coverage(real, fake, nearest_k=1) == {"density": 1.0, "coverage": 0.6}


def test_the_papers_identity_case():
    """Two samples of N(0, I) in 1,000 dimensions, 10,000 each, k = 5: density ≈ 1.056 and coverage ≈ 0.974, the
    figures the issue quotes for this case (within sampling error: one seed's draw)."""
    rng = np.random.default_rng(0)
    real, fake = (rng.standard_normal((10_000, 1_000), dtype=np.float32) for _ in range(2))
    result = density_coverage(real, fake)
    assert result["density"] == pytest.approx(1.056, abs=0.02), result
    assert result["coverage"] == pytest.approx(0.974, abs=0.005), result


def test_bad_features_are_refused():
    with pytest.raises(ValueError, match=r"one d, got \(6, 2\) and \(6, 3\)"):
        density_coverage(np.zeros((6, 2)), np.zeros((6, 3)))
    with pytest.raises(ValueError, match="nearest_k = 5 needs at least 7 real and 7 generated features, got 6 and 9"):
        density_coverage(np.zeros((6, 2)), np.zeros((9, 2)))
