"""Plausible wrong answers, one or more per assignment: each edits a solution in the autograder notebook (one
submission per answer) and names the question it must cost marks on (and no other: a later question that uses this
answer is tested with a reference implementation, or on the student's own earlier results) and the teaching message
the student must read back."""
from __future__ import annotations

from typing import NamedTuple


class WrongAnswer(NamedTuple):
    question: str
    solution: str      # text of the correct solution, as in the master notebook
    replacement: str   # what a student might write instead
    message: str       # a phrase of the failure message the student reads


WRONG_ANSWERS: dict[str, list[WrongAnswer]] = {
    "01_gradients": [
        # Q2's Integrated Gradients calls the student's Q1 saliency, and Q4 reads Q2's IG: their tests use
        # reference implementations instead, so that one slip is charged once (issue 34)
        WrongAnswer("q1", "chosen = logits.gather(1, target.view(-1, 1)).sum()", "chosen = logits.sum()",
                    "sum of all logits"),
        WrongAnswer("q2", "return (x - baseline) * total / steps", "return total / steps",
                    "multiplies the gradient averaged along the path by (x - x')"),
        # issue 34: one call of captum passed the question that asks for the midpoint rule
        WrongAnswer("q2", """    total = torch.zeros_like(x)
    for k in range(steps):
        alpha = (k + 0.5) / steps
        total += saliency(model, baseline + alpha * (x - baseline), target)
    return (x - baseline) * total / steps""", """    from captum.attr import IntegratedGradients
    return IntegratedGradients(model).attribute(x, baselines=baseline, target=target, n_steps=steps)""",
                    "asks you to write the method yourself"),
        # a Gauss-Legendre rule of one's own: a sound integral, but not the method asked for
        WrongAnswer("q2", """        alpha = (k + 0.5) / steps
        total += saliency(model, baseline + alpha * (x - baseline), target)
    return (x - baseline) * total / steps""", """        import numpy as np
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        alpha, weight = (float(nodes[k]) + 1) / 2, float(weights[k]) / 2  # on [0, 1]
        total += weight * saliency(model, baseline + alpha * (x - baseline), target)
    return (x - baseline) * total""", "not the midpoint rule"),
        # Q1's hidden test: captum's Saliency is not the gradient written by hand
        WrongAnswer("q1", """    x = x.detach().clone().requires_grad_(True)
    logits = model(x)
    chosen = logits.gather(1, target.view(-1, 1)).sum()  # images do not interact: one backward for the batch
    (grad,) = torch.autograd.grad(chosen, x)
    return grad""", """    from captum.attr import Saliency
    return Saliency(model).attribute(x, target=target, abs=False)""", "asks you to write the method yourself"),
        WrongAnswer("q4", "magnitude = attributions.abs().flatten(1)", "magnitude = attributions.flatten(1)",
                    "shares are of |a|"),
    ],
    "02_faithfulness": [
        WrongAnswer("q1", "argsort(dim=1, descending=True)", "argsort(dim=1, descending=False)",
                    "sort by decreasing heat"),
        # issue 34: every test used a black fill, and a sample mean passed as the trapezoid area
        WrongAnswer("q1", "torch.where(removed, fill, x)", "torch.where(removed, torch.zeros_like(x), x)",
                    "takes the value of `fill`"),
        WrongAnswer("q1", "return float(torch.trapezoid(curves, dx=1.0 / (curves.shape[1] - 1), dim=1).mean())",
                    "return float(curves.mean())", "is not the area"),
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
        # issue 34: shares that were never computed passed the public test (it checks keys and ranges)
        WrongAnswer("q5", "float((window_overlap(corners, boxes, shortcut.patch) >= 0.5).float().mean())", "0.0",
                    "covers at least half of the planted box"),
    ],
    "03_concepts": [
        WrongAnswer("q1", "if n_sets * size > len(pool):", "if False:", "cannot come from 30"),
        WrongAnswer("q2", "float(classifier.score(x_test, y_test))", "float(classifier.score(x_train, y_train))",
                    "report the accuracy on the held-out third"),
        WrongAnswer("q3", "return float(((gradients @ cav) > 0).float().mean())",
                    "return float(((gradients @ cav) >= 0).float().mean())", "a zero derivative does not count"),
        WrongAnswer("q4", "zip(concept_sets, random_sets_)", "zip(concept_sets, random_sets_[:1])",
                    "set gives a single score"),
        # issue 34: Q5's hidden test judged the outcome of one draw; it now checks the test itself
        WrongAnswer("q5", 'p_values["random control"] = welch_p(control_scores, null_scores)',
                    'p_values["random control"] = welch_p(control_scores, planted_scores)',
                    "against the random-vs-random scores"),
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
                    "the distance of a distribution to itself is 0"),
        # issue 34: the classic FID bug passed every test while the hidden test's covariances commuted
        WrongAnswer("q3", "covmean = sqrtm(cov_a @ cov_b).real", "covmean = (sqrtm(cov_a) @ sqrtm(cov_b)).real",
                    "equals it only when the covariances commute"),
        WrongAnswer("q4", 'ladder[s] = frechet_distance(lab.features(corrupt(real_a, "blur", s)), features_b)',
                    'ladder[s] = frechet_distance(lab.features(corrupt(real_b, "blur", s)), features_b)',
                    "compares real_a blurred"),
    ],
    "05_latent_space": [
        WrongAnswer("q1", "(generator((z + step)[None]) - generator((z - step)[None])) / (2 * eps)",
                    "(generator((z + step)[None]) - generator(z[None])) / eps", "a one-sided difference is off by"),
        # issue 34: autograd's Jacobian passed the question that asks for finite differences
        WrongAnswer("q1", """    columns = []
    with torch.no_grad():
        for i in range(len(z)):
            step = torch.zeros_like(z)
            step[i] = eps
            columns.append(((generator((z + step)[None]) - generator((z - step)[None])) / (2 * eps)).flatten())
    return torch.stack(columns, dim=1)""", """    return torch.autograd.functional.jacobian(lambda v: generator(v[None]).flatten(), z)""",
                    "asks you to write the method yourself"),
        WrongAnswer("q2", "values.argsort(descending=True)[:k]", "values.argsort()[:k]", "reverse it"),
        WrongAnswer("q3", "return float(((top_two[0] - top_two[1]) / entropy).mean())",
                    "return float((top_two[0] - top_two[1]).mean())", "divide each factor's gap by its"),
    ],
    "06_perturbation": [
        # summing instead of averaging, or forgetting the ReLU, already fail the public tests: these need the hidden ones
        WrongAnswer("q1", "noise = sigma * torch.randn(", "noise = sigma ** 2 * torch.randn(", "standard deviation σ"),
        WrongAnswer("q1", """    generator = torch.Generator().manual_seed(seed)
    total = torch.zeros_like(x)
    for _ in range(n):
        noise = sigma * torch.randn(x.shape, generator=generator)
        total += Saliency(model).attribute(x + noise, target=target, abs=False)
    return total / n""", """    from captum.attr import NoiseTunnel
    torch.manual_seed(seed)
    return NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad", nt_samples=n, stdevs=sigma,
                                                  target=target, abs=False)""", "asks you to write the method yourself"),
        WrongAnswer("q2", "weights = grad.mean(dim=(2, 3), keepdim=True)", "weights = grad.sum(dim=(2, 3), keepdim=True)",
                    "averaged over the h·w positions"),
        # a hook that stays on the layer when the forward pass raises
        WrongAnswer("q2", """    try:
        logits = model(x)
    finally:
        handle.remove()""", """    logits = model(x)
    handle.remove()""", "remove it in a finally"),
        WrongAnswer("q2", """    x = x.detach().clone().requires_grad_(True)  # frozen weights: the input carries the graph
    captured = {}""", """    from captum.attr import LayerGradCam
    return LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)[:, 0].detach()
    captured = {}""", "asks you to write the method yourself"),
        WrongAnswer("q3", "return len(top_a & top_b) / len(top_a | top_b)", "return len(top_a & top_b) / k",
                    "divide by the size of the union"),
        WrongAnswer("q3", """    top_a = set(torch.topk(a, k).indices.tolist())
    top_b = set(torch.topk(b, k).indices.tolist())""", """    top_a = set(torch.topk(a.abs(), k).indices.tolist())
    top_b = set(torch.topk(b.abs(), k).indices.tolist())""", "rank by the signed score"),
    ],
    "07_counterfactuals": [
        WrongAnswer("q1", "z = (z + step * grad / grad.norm()).detach()", "z = (z + step * grad).detach()",
                    "normalise the gradient"),
        WrongAnswer("q1", "log_p = torch.log_softmax(classifier(decoder(z[None])), dim=1)[0]",
                    "log_p = classifier(decoder(z[None]))[0]", "gradient of the logit"),
        # steps first, checks after: a latent that already has the target label is moved anyway
        WrongAnswer("q1", """    z = z.detach().clone()
    for steps in range(max_steps + 1):
        z.requires_grad_(True)
        log_p = torch.log_softmax(classifier(decoder(z[None])), dim=1)[0]
        if int(log_p.argmax()) == target:
            return z.detach(), steps
        if steps < max_steps:
            (grad,) = torch.autograd.grad(log_p[target], z)
            z = (z + step * grad / grad.norm()).detach()
    return z.detach(), None""", """    z = z.detach().clone()
    for steps in range(1, max_steps + 1):
        z.requires_grad_(True)
        log_p = torch.log_softmax(classifier(decoder(z[None])), dim=1)[0]
        (grad,) = torch.autograd.grad(log_p[target], z)
        z = (z + step * grad / grad.norm()).detach()
        with torch.no_grad():
            if int(classifier(decoder(z[None])).argmax()) == target:
                return z, steps
    return z, None""", "return it with 0 steps"),
    ],
    "08_capstone": [
        # the true labels of the errors, not what the model called them (and every error as a suspect: Q3 then reads
        # the corner off those maps, which its hidden test accepts, so that the slip is charged in Q2 only)
        WrongAnswer("q2", """shortcut_class = int(torch.bincount(predicted[wrong], minlength=lab.data.num_classes).argmax())
suspects = torch.nonzero(wrong & (predicted == shortcut_class)).flatten()""",
                    """shortcut_class = int(torch.bincount(audit_y[wrong], minlength=lab.data.num_classes).argmax())
suspects = torch.nonzero(wrong).flatten()""", "does not push images to class"),
        WrongAnswer("q3", "shortcut_place = str(shares.mean(axis=1).idxmax())",
                    "shortcut_place = str(shares.mean(axis=1).idxmin())", "does not sit in the"),
    ],
}
