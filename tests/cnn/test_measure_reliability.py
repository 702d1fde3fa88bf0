"""Which measures can be read on a model: the perturbations, the resilience and reactivity figures, and a measure
built to fail each criterion."""
import pandas as pd
import pytest
import torch
from torch import nn

from xai_helpers.cnn import measure_reliability as MR
from xai_helpers.cnn.attribution import explain, heatmap


def test_input_noise_stays_in_each_images_range_and_the_seed_decides_it():
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    noisy = MR.noisy_inputs(x, 0.02, seed=3)
    assert torch.equal(noisy, MR.noisy_inputs(x, 0.02, seed=3)) and not torch.equal(noisy, x)
    assert (noisy >= x.amin((1, 2, 3), keepdim=True)).all() and (noisy <= x.amax((1, 2, 3), keepdim=True)).all()
    assert 0.01 < float((noisy - x).std()) < 0.03


def test_weight_noise_is_small_multiplicative_and_leaves_the_model_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    before = model[1].weight.clone()
    noisy = MR.noisy_weights(model, 0.02, seed=1)
    ratio = (noisy[1].weight / model[1].weight).detach()
    assert torch.equal(model[1].weight, before)
    assert 0.01 < float(ratio.std()) < 0.03 and abs(float(ratio.mean()) - 1) < 0.01
    assert MR.prediction_agreement(model, noisy, torch.rand(50, 1, 4, 4)) > 0.9


def _scores(values: dict) -> pd.DataFrame:
    """{(condition, measure): [score of method a, b, c, d, e]} as condition_scores' long table."""
    return pd.DataFrame([{"condition": c, "method": m, "measure": k, "value": v}
                         for (c, k), vs in values.items() for m, v in zip("abcde", vs)])


def test_a_measure_passes_only_when_resilient_to_noise_and_reactive_to_disruption():
    steady = [0.1, 0.2, 0.3, 0.4, 0.5]
    scores = _scores({
        **{(c, "good"): steady for c in ("original", "input noise", "weight noise")},
        ("disrupted", "good"): [0.5, 0.1, 0.4, 0.2, 0.3],  # the ranking falls apart: reactive
        **{(c, "fragile"): v for c, v in (("original", steady), ("input noise", [0.5, 0.4, 0.3, 0.2, 0.1]),
                                           ("weight noise", steady), ("disrupted", [0.5, 0.1, 0.4, 0.2, 0.3]))},
        **{(c, "inert"): steady for c in MR.CONDITIONS},  # the same ranking on a destroyed model: not reactive
        **{(c, "flat"): [0.3] * 5 for c in MR.CONDITIONS}})
    table = MR.measure_reliability_table(scores)
    assert table.loc["good", "passes"] and table.loc["good", "nr_input"] == pytest.approx(1.0)
    assert table.loc["good", "ar"] == pytest.approx(1 - -0.3)  # ranks 5, 1, 4, 2, 3 against 1..5: ρ = −0.3
    assert not table.loc["fragile", "passes"] and table.loc["fragile", "nr_input"] == pytest.approx(-1.0)
    assert not table.loc["inert", "passes"] and table.loc["inert", "ar"] == pytest.approx(0.0)
    assert not table.loc["flat", "passes"]
    assert table.loc["flat", "reason"] == ("fewer than three methods with a varying score under original, input noise, "
                                           "weight noise, disrupted")
    assert table.loc["max_sensitivity", "reason"].startswith("not judged")


def test_condition_scores_cover_every_condition_method_and_measure():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)).eval()
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2])
    boxes = torch.tensor([[1, 1, 3, 3]] * 3)
    scores = MR.condition_scores(model, x, y, ["saliency", "integrated_gradients"], {}, 3, steps=4,
                                 shortcut=(model, x, boxes, 0), seed=0)
    assert set(scores["condition"]) == set(MR.CONDITIONS) and set(scores["method"]) == {"saliency",
                                                                                      "integrated_gradients"}
    assert {"road.morf", "random_logit", "efficient_mprt", "relevance_rank_accuracy"} <= set(scores["measure"])
    assert len(scores) == 4 * 2 * scores["measure"].nunique()
    models = MR.conditions(model, x, seed=0)
    assert MR.prediction_agreement(model, models["weight noise"][0], x) == 1.0
    disrupted = models["disrupted"][0][3].weight / model[3].weight
    assert float(disrupted.detach().std()) > 0.5  # weights of random size, many with their sign flipped


def _tiny(norm: bool = False):
    torch.manual_seed(0)
    layers = [nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten()]
    return nn.Sequential(*layers, *([nn.LayerNorm(256)] if norm else []), nn.Linear(4 * 8 * 8, 3)).eval()


@pytest.mark.parametrize("norm", [False, True])
def test_shared_maps_give_the_scores_each_condition_computes_alone(monkeypatch, norm):
    """The original condition's maps passed in, and the randomised model's maps made once, change no score: the
    same table as when every condition explains on its own. A layer norm, which the cascade does not re-draw,
    makes the weight conditions' randomised models differ, and then they are not shared."""
    model, methods = _tiny(norm), ["saliency", "integrated_gradients", "input_x_gradient"]
    x, y = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(1)), torch.tensor([0, 1, 2])
    boxes = torch.tensor([[1, 1, 3, 3]] * 3)
    options = {"integrated_gradients": {"n_steps": 8}}
    attributions = {m: explain(model, x, y, m, seed=0, **options.get(m, {})) for m in methods}
    patched = {m: heatmap(explain(model, x, torch.zeros(3, dtype=torch.long), m, seed=0, **options.get(m, {})))
               for m in methods}
    randomised = MR.fully_randomised(model, 0)
    same = [MR._same_weights(MR.fully_randomised(m, 0), randomised) for m, _ in MR.conditions(model, x, 0).values()]
    assert same == [True, True, not norm, not norm]
    shared = MR.condition_scores(model, x, y, methods, options, 3, steps=4, shortcut=(model, x, boxes, 0),
                                 maps=(attributions, {m: heatmap(a) for m, a in attributions.items()}),
                                 shortcut_heats=patched)
    monkeypatch.setattr(MR, "_same_weights", lambda a, b: False)
    alone = MR.condition_scores(model, x, y, methods, options, 3, steps=4, shortcut=(model, x, boxes, 0))
    pd.testing.assert_frame_equal(shared, alone)
