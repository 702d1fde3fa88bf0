"""Plausible wrong answers, one or more per assignment: each edits a solution in the autograder notebook (one
submission per answer) and names the question it must cost marks on, the teaching message the student must read
back, and the later questions that lose marks with it."""
from __future__ import annotations

from typing import NamedTuple


class WrongAnswer(NamedTuple):
    question: str
    solution: str      # text of the correct solution, as in the master notebook
    replacement: str   # what a student might write instead
    message: str       # a phrase of the failure message the student reads
    also: tuple = ()   # later questions that use this answer and so lose marks with it


WRONG_ANSWERS: dict[str, list[WrongAnswer]] = {
    "01_gradients": [
        # Q2's Integrated Gradients calls the student's Q1 saliency: one slip, charged twice (issue 34)
        WrongAnswer("q1", "chosen = logits.gather(1, target.view(-1, 1)).sum()", "chosen = logits.sum()",
                    "sum of all logits", also=("q2",)),
        WrongAnswer("q2", "return (x - baseline) * total / steps", "return total / steps",
                    "multiplies the gradient averaged along the path by (x - x')", also=("q4",)),  # Q4 reads Q2's IG
        WrongAnswer("q4", "magnitude = attributions.abs().flatten(1)", "magnitude = attributions.flatten(1)",
                    "shares are of |a|"),
    ],
    "02_faithfulness": [
        WrongAnswer("q1", "argsort(dim=1, descending=True)", "argsort(dim=1, descending=False)",
                    "sort by decreasing heat"),
        WrongAnswer("q2", "    torch.manual_seed(seed)\n", "", "call torch.manual_seed(seed) before re-initialising"),
        WrongAnswer("q3", "va, vb = ai[mi].numpy(), bi[mi].numpy()", "va, vb = ai.flatten().numpy(), bi.flatten().numpy()",
                    "correlate only the pixels inside each image's mask"),
        WrongAnswer("q5", "[best // sums.shape[2], best % sums.shape[2]]", "[best // sums.shape[1], best % sums.shape[1]]",
                    "rows and columns have different lengths"),
        # issue 29 (low): the public test accepted any four shares in [0, 1]; a hidden one recomputes them
        # (shares of 100 images instead of 64: every value stays in [0, 1], which the public test checks)
        WrongAnswer("q5", "(window_overlap(corners, boxes, shortcut.patch) >= 0.5).float().mean()",
                    "(window_overlap(corners, boxes, shortcut.patch) >= 0.5).float().sum() / 100",
                    "covers at least half of the planted box"),
    ],
    "03_concepts": [
        WrongAnswer("q1", "if n_sets * size > len(pool):", "if False:", "cannot come from 30"),
        WrongAnswer("q2", "float(classifier.score(x_test, y_test))", "float(classifier.score(x_train, y_train))",
                    "report the accuracy on the held-out third"),
        WrongAnswer("q3", "return float(((gradients @ cav) > 0).float().mean())",
                    "return float(((gradients @ cav) >= 0).float().mean())", "a zero derivative does not count"),
        WrongAnswer("q4", "zip(concept_sets, random_sets_)", "zip(concept_sets, random_sets_[:1])",
                    "set gives a single score", also=("q5",)),
    ],
    "04_gan_training": [
        WrongAnswer("q1", "np.exp(-(p * np.log(p)).sum())", "np.exp(-(p * np.log2(p)).sum())",
                    "four equally frequent classes: 4"),
        WrongAnswer("q2", """    if separates or exploding:
        return "diverging"
    if effective_classes(counts) < 3:
        return "collapsed"
""", """    if effective_classes(counts) < 3:
        return "collapsed"
    if separates or exploding:
        return "diverging"
""", "check divergence first"),
        WrongAnswer("q3", "covmean = sqrtm(cov_a @ cov_b).real", "covmean = cov_a @ cov_b",
                    "the distance of a distribution to itself is 0", also=("q4",)),
        # issue 34: the classic FID bug passed every test while the hidden test's covariances commuted
        WrongAnswer("q3", "covmean = sqrtm(cov_a @ cov_b).real", "covmean = (sqrtm(cov_a) @ sqrtm(cov_b)).real",
                    "equals it only when the covariances commute"),
    ],
    "05_latent_space": [
        WrongAnswer("q1", "(generator((z + step)[None]) - generator((z - step)[None])) / (2 * eps)",
                    "(generator((z + step)[None]) - generator(z[None])) / eps", "a one-sided difference is off by"),
        WrongAnswer("q2", "values.argsort(descending=True)[:k]", "values.argsort()[:k]", "reverse it"),
        WrongAnswer("q3", "return float(((top_two[0] - top_two[1]) / entropy).mean())",
                    "return float((top_two[0] - top_two[1]).mean())", "divide each factor's gap by its", also=("q4",)),
    ],
}
