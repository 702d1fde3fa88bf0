r"""Disentanglement metrics that fix one factor and vote (see :mod:`.disentanglement` for the pool and the
discretisation): FactorVAE and BetaVAE scores, with "factor k fixed" drawn from the pool.

* **FactorVAE score** (Kim & Mnih 2018). Codes are divided by their std over the pool; dims with std < 0.05
  are pruned (dislib's ``prune_dims.threshold = 0.05`` on the std: collapsed dims have near-zero variance
  and would always win the argmin). One vote: pick a factor k uniformly, pick a value of discretised v_k (a
  random pool sample's value), draw ``batch_size`` pool samples with that value, and vote (argmin_i of the
  normalised variance of z_i in the batch, k). A majority-vote classifier dim → factor is fitted on the
  training votes; the score is its accuracy on the evaluation votes (drawn from the other half of the pool,
  see below). Chance accuracy is 1/K, so random codes
  score ≈ 1/K; we report it as ``factorvae_raw`` and ``factorvae = clip((acc − 1/K) / (1 − 1/K), 0, 1)``, so
  that 0 is chance and 1 perfect.
* **BetaVAE score** (Higgins et al. 2017). One point: pick a factor k, draw ``batch_size`` pairs of pool
  samples, each pair sharing the discretised value of v_k; the feature is the mean over pairs of
  |z_1 − z_2| (codes standardised per dim). A ``LogisticRegression`` predicts k from the feature; the score is
  its evaluation accuracy, reported raw (``betavae_raw``) and chance-corrected as for FactorVAE (``betavae``).

  For both, training and evaluation draws come from disjoint random halves of the pool. A simulator gives
  fresh samples every time; a pool gives the same few samples of each group again and again, and a
  classifier would learn the quirks of those groups and meet them again at evaluation (random codes then
  score above chance: about 0.04 on average for FactorVAE at N = 2000 with one shared pool).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.linear_model import LogisticRegression

from .information_metrics import (_chance_corrected, _check_count, _check_num_bins, _check_pool,
                                  _train_test_split, _usable_factors, discretize)

PRUNE_STD = 0.05  # FactorVAE: dislib's prune_dims.threshold, compared with the std of each code dim


# --- sampling "factor k fixed" from the pool ----------------------------------------------------------------

class _Groups(NamedTuple):
    """The pool grouped by the value of one discretised factor, for vectorised draws within a group."""
    order: np.ndarray  # sample indices sorted by value: group g is order[start[g] : start[g] + size[g]]
    start: np.ndarray  # (values,)
    size: np.ndarray  # (values,)
    value: np.ndarray  # (N,) each sample's value
    rank: np.ndarray  # (N,) each sample's position inside its group
    anchors: np.ndarray  # samples whose group has at least 2 members: the ones a draw may start from


def _group_by_value(column_d: np.ndarray) -> _Groups:
    order = np.argsort(column_d, kind="stable")
    size = np.bincount(column_d, minlength=column_d.max() + 1)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    rank = np.empty(len(column_d), dtype=np.int64)
    rank[order] = np.arange(len(column_d)) - start[column_d[order]]
    # A value held by one sample cannot make a batch with any spread (variance 0 in every dim, an arbitrary
    # argmin) nor a pair of two distinct samples, so draws start only from values held at least twice.
    anchors = np.flatnonzero(size[column_d] >= 2)
    return _Groups(order, start, size, column_d, rank, anchors)


def _split_groups(factors: np.ndarray, num_bins: int, rng: np.random.Generator):
    """The pool split in two halves (train, eval), each grouped by every usable factor's discretised value.

    Returns (train indices, eval indices, train groups, eval groups, the factors' column indices). Votes and
    points for training and for evaluation come from disjoint halves of the pool: drawn from one pool, they
    would reuse the same few samples of each group (a group of ~100 samples gives batches of 64), whose
    quirks (this group's z_3 happens to spread less) a classifier learns and finds again at evaluation, so
    codes independent of the factors would score above chance.
    """
    usable = _usable_factors(factors)
    factors_d = discretize(factors[:, usable], num_bins)
    halves = _train_test_split(len(factors), 0.5, rng)
    groups = [[_group_by_value(column) for column in factors_d[half].T] for half in halves]
    # A non-constant factor has a value held twice in each half unless the pool is tiny; skip it otherwise.
    keep = [k for k in range(len(usable)) if len(groups[0][k].anchors) and len(groups[1][k].anchors)]
    if len(keep) < 2:
        raise ValueError(f"need at least 2 factors with a value shared by two samples in each half of the "
                         f"pool, got factor columns {usable[keep].tolist()} of N={len(factors)} samples")
    return (*halves, [groups[0][k] for k in keep], [groups[1][k] for k in keep], usable[keep])


def _check_votes(batch_size, num_train, num_eval) -> tuple[int, int, int]:
    return (_check_count(batch_size, "batch_size", 2), _check_count(num_train, "num_train", 1),
            _check_count(num_eval, "num_eval", 1))


# --- FactorVAE --------------------------------------------------------------------------------------------

def _factorvae_votes(normalised_codes, groups, batch_size, num_votes, rng) -> np.ndarray:
    """(K, D') vote counts: votes[k, i] = how often fixing factor k left code i with the least variance."""
    votes = np.zeros((len(groups), normalised_codes.shape[1]), dtype=np.int64)
    for k in rng.integers(len(groups), size=num_votes):
        g = groups[k]
        value = g.value[rng.choice(g.anchors)]
        size = g.size[value]
        # Without replacement where the group allows, as a simulator would give distinct samples.
        picks = rng.choice(size, size=batch_size, replace=bool(size < batch_size))
        batch = normalised_codes[g.order[g.start[value] + picks]]
        votes[k, np.argmin(batch.var(axis=0, ddof=1))] += 1
    return votes


def factorvae_score(codes: np.ndarray, factors: np.ndarray, *, num_bins: int = 20, batch_size: int = 64,
                    num_train: int = 800, num_eval: int = 400, num_variance_estimate: int | None = None,
                    seed: int = 0) -> dict:
    """Kim & Mnih's majority-vote accuracy over argmin-variance votes, raw and chance-corrected."""
    codes, factors = _check_pool(codes, factors)
    num_bins = _check_num_bins(num_bins)
    batch_size, num_train, num_eval = _check_votes(batch_size, num_train, num_eval)
    rng = np.random.default_rng(seed)
    if num_variance_estimate is None:
        variance_sample = codes
    else:
        num_variance_estimate = _check_count(num_variance_estimate, "num_variance_estimate", 2)
        variance_sample = codes[rng.choice(len(codes), min(num_variance_estimate, len(codes)), replace=False)]
    global_std = variance_sample.std(axis=0, ddof=1)
    active = np.flatnonzero(global_std >= PRUNE_STD)
    train, held_out, train_groups, eval_groups, used = _split_groups(factors, num_bins, rng)
    if len(active) == 0:  # dislib scores a representation with every dim collapsed as 0
        return {"factorvae": 0.0, "factorvae_raw": 0.0, "num_active_dims": 0, "factors_used": used.tolist()}
    normalised = codes[:, active] / global_std[active]
    train_votes = _factorvae_votes(normalised[train], train_groups, batch_size, num_train, rng)
    eval_votes = _factorvae_votes(normalised[held_out], eval_groups, batch_size, num_eval, rng)
    factor_of_dim = np.argmax(train_votes, axis=0)  # the majority-vote classifier; unvoted dims say factor 0
    dims = np.arange(len(active))
    accuracy = float(eval_votes[factor_of_dim, dims].sum() / eval_votes.sum())
    return {"factorvae": _chance_corrected(accuracy, len(used)), "factorvae_raw": accuracy,
            "train_accuracy": float(train_votes[factor_of_dim, dims].sum() / train_votes.sum()),
            "num_active_dims": int(len(active)), "factors_used": used.tolist()}


# --- BetaVAE ----------------------------------------------------------------------------------------------

def _betavae_points(standardised_codes, groups, batch_size, num_points, rng) -> tuple[np.ndarray, np.ndarray]:
    """Features (num_points, D): mean |z_1 − z_2| over pairs sharing factor k's value; labels k."""
    labels = rng.integers(len(groups), size=num_points)
    features = np.empty((num_points, standardised_codes.shape[1]))
    for p, k in enumerate(labels):
        g = groups[k]
        first = rng.choice(g.anchors, size=batch_size)
        value = g.value[first]
        # A partner uniformly among the *other* members of first's group: draw a position among size − 1 and
        # step over first's own position.
        position = rng.integers(0, g.size[value] - 1)
        position += position >= g.rank[first]
        second = g.order[g.start[value] + position]
        features[p] = np.abs(standardised_codes[first] - standardised_codes[second]).mean(axis=0)
    return features, labels


def betavae_score(codes: np.ndarray, factors: np.ndarray, *, num_bins: int = 20, batch_size: int = 64,
                  num_train: int = 800, num_eval: int = 400, seed: int = 0) -> dict:
    """Higgins et al.'s linear-classifier accuracy on mean |z_1 − z_2| features, raw and chance-corrected."""
    codes, factors = _check_pool(codes, factors)
    num_bins = _check_num_bins(num_bins)
    batch_size, num_train, num_eval = _check_votes(batch_size, num_train, num_eval)
    rng = np.random.default_rng(seed)
    std = codes.std(axis=0)
    standardised = (codes - codes.mean(axis=0)) / np.where(std > 0, std, 1.0)
    train, held_out, train_groups, eval_groups, used = _split_groups(factors, num_bins, rng)
    train_x, train_y = _betavae_points(standardised[train], train_groups, batch_size, num_train, rng)
    eval_x, eval_y = _betavae_points(standardised[held_out], eval_groups, batch_size, num_eval, rng)
    if len(np.unique(train_y)) < 2:  # a tiny num_train drew one factor only: the classifier can only guess
        accuracy, train_accuracy = float(np.mean(eval_y == train_y[0])), 1.0
    else:
        model = LogisticRegression(max_iter=5000, random_state=seed).fit(train_x, train_y)
        accuracy, train_accuracy = float(model.score(eval_x, eval_y)), float(model.score(train_x, train_y))
    return {"betavae": _chance_corrected(accuracy, len(used)), "betavae_raw": accuracy,
            "train_accuracy": train_accuracy, "factors_used": used.tolist()}
