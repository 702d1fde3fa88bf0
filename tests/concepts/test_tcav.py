"""TCAV with an honest CAV accuracy, a significance test and a checkpoint-safe cache (xai_helpers.concepts.tcav)."""
import numpy as np
import pandas as pd
import pytest
import torch
from captum.concept import Concept, TCAV
from torch import nn

from xai_helpers.cnn.models import AttentionCNN, PlainCNN
from xai_helpers.concepts.significance import correct, holm, paired_t_test
from xai_helpers.concepts.tcav import (HeldOutLinearClassifier, captum_accuracy_comparison, checkpoint_id, class_inputs,
                              compare_with_null, compute_cavs, default_layers, directional_derivatives,
                              layer_gradients, nested_metrics, tcav_study)

R, SET = 24, 40


class Tiny(nn.Module):
    """h = the first 8 of 16 pixels (layer ``hidden``, pre-ReLU); logit 0 = v·ReLU(h), logit 1 = −logit 0."""

    def __init__(self, v: torch.Tensor, roll: int = 0):
        super().__init__()
        self.hidden = nn.Linear(16, 8)
        self.relu = nn.ReLU()
        self.head = nn.Linear(8, 2)
        with torch.no_grad():
            self.hidden.weight.copy_(torch.roll(torch.eye(8, 16), roll, dims=1))
            self.hidden.bias.zero_()
            self.head.weight.copy_(torch.stack([v, -v]))
            self.head.bias.zero_()

    def forward(self, x):
        return self.head(self.relu(self.hidden(x.flatten(1))))


def direction():
    v = torch.tensor([1.0, -0.5, 0.8, 0.3, -0.2, 0.6, 0.4, -0.7])
    return v / v.norm()


def noise(n, gen):
    return 0.3 + torch.randn(n, 1, 4, 4, generator=gen)


def along(v, n, gen, strength=5.0):
    """Random images moved along v in the hidden layer (the first 8 pixels)."""
    x = noise(n, gen)
    x.view(n, 16)[:, :8] += strength * v
    return x


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    v = direction()
    model = Tiny(v).eval()
    randoms = [noise(SET, gen) for _ in range(R)]
    null = [noise(SET, gen) for _ in range(R)]
    concepts = {"along_v": [along(v, SET, gen) for _ in range(R)]}
    controls = {f"random_control_{j}": [noise(SET, gen) for _ in range(R)] for j in range(5)}
    inputs = {0: noise(200, gen)}
    return model, v, randoms, null, concepts, controls, inputs


def test_known_direction_is_found_and_random_concepts_are_not(setup):
    model, v, randoms, null, concepts, controls, inputs = setup
    table = tcav_study(model, ["hidden"], concepts, randoms, null, inputs, controls=controls)
    results = correct(compare_with_null(table)).set_index("concept")
    found, ctl = results.loc["along_v"], results[results.role == "control"]
    assert found.cav_accuracy > 0.95
    assert found.tcav_score > 0.95 and found.magnitude > 0.95
    assert found.significant
    # Random concepts, tested like concepts: none survives the correction.
    assert len(ctl) == 5 and not ctl.significant.any()
    # The random-vs-random scores really are spread (what makes the concept's consistency meaningful).
    assert table[table.role == "baseline"].tcav_score.std() > 0.15


def test_cav_points_along_the_planted_direction(setup, tmp_path):
    model, v, _, _, _, _, _ = setup
    gen = torch.Generator().manual_seed(2)
    sets = {"c": along(v, 300, gen), "r": noise(300, gen)}
    cav = compute_cavs(model, ["hidden"], sets, [("c", "r")], tmp_path)[("c", "r")]["hidden"]
    cosine = torch.nn.functional.cosine_similarity(cav.vector, v, dim=0)
    assert cosine > 0.85 and cav.accuracy > 0.95  # a random direction in 8-d: |cos| ~ 0.35


def test_our_cav_accuracy_is_held_out_and_captums_is_a_class_share(setup):
    model, v, randoms, _, concepts, _, _ = setup
    acc = captum_accuracy_comparison(model, "hidden", concepts["along_v"][0], randoms[0], seed=3)
    assert acc["ours"] > 0.95
    assert acc["captum_default"] == pytest.approx(acc["captum_class_share"], abs=1e-9)
    assert acc["captum_default"] < acc["ours"] - 0.3


def test_held_out_classifier_weights_follow_captums_convention():
    gen = torch.Generator().manual_seed(1)
    x = torch.cat([torch.randn(30, 5, generator=gen) + 3, torch.randn(30, 5, generator=gen)])
    y = torch.cat([torch.full((30,), 7), torch.full((30,), 2)])
    clf = HeldOutLinearClassifier(seed=0)
    stats = clf.train_and_eval([(x, y)])
    assert stats["accs"] == 1.0 and stats["n_test"] == 20
    w, classes = clf.weights(), clf.classes()
    assert classes == [2, 7] and torch.equal(w[0], -w[1])
    assert (x[:30] @ w[1]).min() > (x[30:] @ w[1]).max()  # row 1 points towards class 7
    with pytest.raises(ValueError, match="test_fraction"):
        HeldOutLinearClassifier(test_fraction=1.0)


def test_disk_cache_never_serves_another_checkpoints_cav(setup, tmp_path):
    model_a, v, randoms, _, concepts, _, _ = setup
    model_b = Tiny(v, roll=4).eval()  # reads other pixels: its activations of the same images differ
    assert checkpoint_id(model_a) != checkpoint_id(model_b)
    sets = {"c": concepts["along_v"][0], "r": randoms[0]}
    shared = tmp_path / "shared"
    a = compute_cavs(model_a, ["hidden"], sets, [("c", "r")], shared)[("c", "r")]["hidden"].vector
    b = compute_cavs(model_b, ["hidden"], sets, [("c", "r")], shared)[("c", "r")]["hidden"].vector
    b_fresh = compute_cavs(model_b, ["hidden"], sets, [("c", "r")], tmp_path / "fresh")[("c", "r")]["hidden"].vector
    assert torch.allclose(b, b_fresh) and not torch.allclose(a, b)
    # The same checkpoint again in a used folder is refused: captum would key the new sets by old concept ids.
    with pytest.raises(ValueError, match="already holds captum activations or CAVs"):
        compute_cavs(model_b, ["hidden"], {"c": randoms[1], "r": randoms[2]}, [("c", "r")], shared)
    # The trap all this avoids: under one model_id captum serves model A's CAV to model B.
    stale = str(tmp_path / "stale")
    concept, counterpart = Concept(0, "c", [sets["c"]]), Concept(1, "r", [sets["r"]])
    cav_of = {}
    for name, model in (("a", model_a), ("b", model_b)):
        tc = TCAV(model, ["hidden"], model_id="default_model_id", classifier=HeldOutLinearClassifier(), save_path=stale)
        cav_of[name] = tc.compute_cavs([[concept, counterpart]])["0-1"]["hidden"].stats["weights"]
    assert torch.equal(cav_of["a"], cav_of["b"])


def test_checkpoint_id_is_stable_and_sees_every_weight():
    model = Tiny(direction())
    assert checkpoint_id(model) == checkpoint_id(Tiny(direction()))
    with torch.no_grad():
        model.head.bias[1] += 1e-6
    assert checkpoint_id(model) != checkpoint_id(Tiny(direction()))


def test_sign_count_equals_captums_interpret(setup, tmp_path):
    model, v, randoms, null, concepts, _, inputs = setup
    gen = torch.Generator().manual_seed(5)
    c = Concept(0, "c", [randoms[2]])  # a random direction: its derivatives change sign across inputs
    r = Concept(1, "r", [randoms[1]])
    x = inputs[0] + 0.5 * torch.randn(inputs[0].shape, generator=gen)
    tc = TCAV(model, ["hidden"], model_id=checkpoint_id(model), classifier=HeldOutLinearClassifier(),
              save_path=str(tmp_path))
    theirs = tc.interpret(x, [[c, r]], target=1)["0-1"]["hidden"]["sign_count"]
    cav = tc.cavs["0-1"]["hidden"].stats["weights"]
    grads = layer_gradients(model, "hidden", x, 1)
    ours, _ = directional_derivatives(grads, cav)
    assert np.allclose(ours, theirs.numpy())
    assert 0 < ours[0] < 1  # a fraction of the inputs, not all or none: the comparison is not trivial


def test_magnitude_is_kim_et_als_share_of_positive_mass():
    grads = torch.tensor([[1.0, 0.0], [-3.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    cavs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    sign, magnitude = directional_derivatives(grads, cavs)
    assert sign.tolist() == [0.5, 0.0]
    assert magnitude == pytest.approx([3 / 6, 0.0])


def test_last_hidden_layer_is_taken_before_its_relu():
    model = PlainCNN().eval()
    layers = default_layers(model)
    assert layers == {"first convolution": "features.2", "last convolution": "features.12",
                      "last hidden layer": "classifier.0"}
    assert default_layers(AttentionCNN())["last convolution"] == "stem.12"  # not the attention module's ReLU
    x = torch.rand(6, 1, 28, 28)
    after = layer_gradients(model, "classifier.1", x, 3)
    before = layer_gradients(model, "classifier.0", x, 3)
    assert torch.allclose(after, after[:1].expand_as(after))  # behind the ReLU: the same for every input
    assert not torch.allclose(before, before[:1].expand_as(before))


def test_holm_adjusts_step_down_and_skips_missing():
    adjusted, reject = holm([0.01, 0.04, np.nan, 0.03, 0.005], alpha=0.05)
    assert np.allclose(adjusted[[0, 1, 3, 4]], [0.03, 0.06, 0.06, 0.02])
    assert np.isnan(adjusted[2])
    assert reject.tolist() == [True, False, False, False, True]
    with pytest.raises(ValueError, match="alpha"):
        holm([0.1], alpha=0)


def test_paired_t_test_uses_the_pairing_and_handles_constant_differences():
    assert paired_t_test([1, 1, 1], [1, 1, 1]) == (1.0, 0.0)
    assert paired_t_test([1, 1, 1], [0, 0, 0]) == (0.0, None)
    assert paired_t_test([0.31, 0.57, 0.73], [0.21, 0.47, 0.63]) == (0.0, None)  # equal up to rounding
    base = np.array([0.1, 0.9, 0.3, 0.7, 0.5, 0.2])
    p, d = paired_t_test(base + 0.05 + np.array([0, 0.01, -0.01, 0.02, 0, -0.02]), base)
    assert p < 1e-3 and d > 2  # a small but consistent shift: an unpaired test would see nothing
    with pytest.raises(ValueError, match="at least 2 pairs"):
        paired_t_test([1.0], [0.0])
    with pytest.raises(ValueError, match="one length"):
        paired_t_test([1.0, 2.0], [0.0])


def scores_table(concept_acc, control_acc=0.5, r=4):
    rows = []
    for i in range(r):
        rows.append(dict(concept="c", role="concept", draw=i, layer="L", class_index=0, tcav_score=0.9 + 0.01 * i,
                         magnitude=0.9, cav_accuracy=concept_acc[i]))
        rows.append(dict(concept="ctl", role="control", draw=i, layer="L", class_index=0, tcav_score=0.2 * i,
                         magnitude=0.5, cav_accuracy=control_acc))
        rows.append(dict(concept="random", role="baseline", draw=i, layer="L", class_index=0, tcav_score=0.25 * i,
                         magnitude=0.5, cav_accuracy=0.5))
    return pd.DataFrame(rows)


def test_flagged_draws_leave_the_pairing_by_draw_intact():
    from scipy import stats

    table = scores_table([0.6, 0.65, 0.9, 0.95, 0.9, 0.9], r=6).sample(frac=1, random_state=0)  # shuffled rows
    res = compare_with_null(table, min_cav_accuracy=0.7, min_cavs=2).set_index("concept")
    kept = table[(table.concept == "c") & (table.draw >= 2)].sort_values("draw").tcav_score.to_numpy()
    null = table[(table.role == "baseline") & (table.draw >= 2)].sort_values("draw").tcav_score.to_numpy()
    assert res.loc["c", "p_value"] == pytest.approx(stats.ttest_rel(kept, null).pvalue)
    # The half rule on its own: 3 of 8 kept is enough for min_cavs=2 but fewer than half.
    res = compare_with_null(scores_table([0.9, 0.9, 0.9] + [0.5] * 5, r=8), min_cavs=2).set_index("concept")
    assert not res.loc["c", "tested"]


def test_low_accuracy_cavs_are_flagged_and_not_used():
    res = compare_with_null(scores_table([0.9, 0.95, 0.6, 0.65]), min_cav_accuracy=0.7, min_cavs=2).set_index("concept")
    assert res.loc["c", "n_cavs_flagged"] == 2 and res.loc["c", "tested"]
    assert res.loc["c", "tcav_score"] == pytest.approx(0.905)  # the two kept CAVs only
    res = compare_with_null(scores_table([0.9, 0.6, 0.6, 0.65]), min_cav_accuracy=0.7, min_cavs=2).set_index("concept")
    assert not res.loc["c", "tested"] and pd.isna(res.loc["c", "p_value"])  # fewer than half kept
    assert res.loc["ctl", "tested"]  # controls are tested whatever their accuracy
    out = correct(res.reset_index())
    assert pd.isna(out.set_index("concept").loc["c", "p_value_corrected"])
    with pytest.raises(ValueError, match="min_cav_accuracy"):
        compare_with_null(scores_table([0.9] * 4), min_cav_accuracy=1.5)
    with pytest.raises(ValueError, match="min_cavs"):
        compare_with_null(scores_table([0.9] * 4), min_cavs=1)


def test_tcav_study_refuses_bad_sets(setup):
    model, v, randoms, null, concepts, _, inputs = setup
    with pytest.raises(ValueError, match="random_set"):
        tcav_study(model, ["hidden"], {"random_set_x": concepts["along_v"]}, randoms, null, inputs)
    with pytest.raises(ValueError, match=r"one draw per counterpart \(24\)"):
        tcav_study(model, ["hidden"], {"short": concepts["along_v"][:3]}, randoms, null, inputs)
    with pytest.raises(ValueError, match=r"one draw per counterpart \(24\); got \{'null': 2\}"):
        tcav_study(model, ["hidden"], concepts, randoms, null[:2], inputs)
    with pytest.raises(ValueError, match="at least 2 random counterparts"):
        tcav_study(model, ["hidden"], {}, randoms[:1], null[:1], inputs)
    with pytest.raises(ValueError, match=r"no layer 'hiden'; did you mean hidden"):
        tcav_study(model, ["hiden"], concepts, randoms, null, inputs)
    with pytest.raises(ValueError, match="set names must be"):
        tcav_study(model, ["hidden"], {"along v*": concepts["along_v"]}, randoms, null, inputs)


def test_class_inputs_and_nested_metrics():
    images, labels = torch.arange(10.0)[:, None], torch.tensor([0, 1, 0, 1, 2, 0, 0, 1, 2, 2])
    got = class_inputs(images, labels, 2)
    assert {k: v.flatten().tolist() for k, v in got.items()} == {0: [0.0, 2.0], 1: [1.0, 3.0], 2: [4.0, 8.0]}
    assert len(class_inputs(images, labels, None)[0]) == 4
    with pytest.raises(ValueError, match="positive"):
        class_inputs(images, labels, 0)
    results = correct(compare_with_null(scores_table([0.9] * 4), min_cavs=2))
    nested = nested_metrics(results, ["zero"])
    assert set(nested) == {"c", "ctl"}
    cell = nested["c"]["zero"]["L"]
    assert set(cell) == {"tcav_score", "magnitude", "p_value", "p_value_corrected", "significant", "cav_accuracy",
                         "effect_size", "tested"}
    assert cell["tcav_score"] == pytest.approx(0.915) and isinstance(cell["significant"], bool)


def test_captum_comparison_leaves_the_global_generators_alone(setup):
    import random

    model, v, randoms, _, concepts, _, _ = setup
    random.seed(11)
    np.random.seed(11)
    torch.manual_seed(11)
    captum_accuracy_comparison(model, "hidden", concepts["along_v"][0], randoms[0], seed=3)
    drawn = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(11)
    np.random.seed(11)
    torch.manual_seed(11)
    assert drawn == (random.random(), np.random.rand(), torch.rand(1).item())


def test_study_is_deterministic(setup):
    model, v, randoms, null, concepts, controls, inputs = setup
    first = tcav_study(model, ["hidden"], concepts, randoms, null, inputs, controls=controls, seed=4)
    second = tcav_study(model, ["hidden"], concepts, randoms, null, inputs, controls=controls, seed=4)
    pd.testing.assert_frame_equal(first, second)
