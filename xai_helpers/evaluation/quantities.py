"""Every quantity the study reports, defined once: its label, unit, better direction and the range it can take.

The evaluation ranks methods by the directions and clips intervals over seeds to the ranges (a Student-t interval
knows nothing of them: over 3 seeds of a noisy accuracy it can reach past 1); the report labels its headers with
the same entries, so a table and its header cannot disagree about which way is better."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Quantity:
    """How a quantity is named, which way is better (+1 higher, −1 lower, 0 not graded) and the range it can take."""
    label: str
    unit: str = ""
    better: int = 0
    low: float = -math.inf
    high: float = math.inf

    @property
    def range(self) -> tuple[float, float]:
        return self.low, self.high


UP, DOWN = +1, -1
#: Every quantity whose unit, better direction or range is known, by its name in the tables (a column, or a metric
#: named in a row). Directions follow the metric's definition; the evaluation ranks 02's methods by them
#: (:data:`EXPLANATION_GRADED`) and clips intervals to the ranges. Descriptive numbers (sparseness, counts, the
#: clean-model pointing game, which is a control) are named but not graded.
QUANTITIES = {
    # 01 and 06: classification
    "accuracy": Quantity("accuracy", better=UP, low=0.0, high=1.0), "test_accuracy": Quantity("test accuracy", better=UP),
    "macro-F1": Quantity("macro-F1", better=UP, low=0.0, high=1.0),
    "calibration error (ECE)": Quantity("calibration error (ECE)", better=DOWN, low=0.0, high=1.0),
    # 04: generative fidelity (in the study's classifier feature space)
    "FID": Quantity("FID", better=DOWN, low=0.0), "KID": Quantity("KID", better=DOWN), "IS": Quantity("IS", better=UP, low=1.0),
    "precision": Quantity("precision", better=UP, low=0.0, high=1.0), "recall": Quantity("recall", better=UP, low=0.0, high=1.0),
    # density is not graded: about 1 for samples of the real distribution, above 1 where samples crowd dense regions
    "density": Quantity("density", low=0.0), "coverage": Quantity("coverage", better=UP, low=0.0, high=1.0),
    "classes covered": Quantity("classes covered", "count", better=UP, low=0.0),
    # 02: explanation quality
    "deletion_auc.zero": Quantity("deletion AUC (zero)", better=DOWN),
    "deletion_auc.blur": Quantity("deletion AUC (blur)", better=DOWN),
    "insertion_auc.zero": Quantity("insertion AUC (zero)", better=UP),
    "insertion_auc.blur": Quantity("insertion AUC (blur)", better=UP),
    "road.morf": Quantity("ROAD MoRF AUC", better=DOWN), "road.lerf": Quantity("ROAD LeRF AUC", better=UP),
    "infidelity": Quantity("infidelity", better=DOWN), "max_sensitivity": Quantity("max-sensitivity", better=DOWN),
    "pointing_game": Quantity("pointing game", better=UP),
    "relevance_mass_accuracy": Quantity("relevance mass accuracy", better=UP, low=0.0, high=1.0),
    "relevance_rank_accuracy": Quantity("relevance rank accuracy", better=UP, low=0.0, high=1.0),
    "relevance_mass_chance": Quantity("relevance mass, chance level"),
    "relevance_rank_chance": Quantity("relevance rank, chance level"),
    "random_logit": Quantity("Random Logit SSIM", better=DOWN),
    "smooth_mprt": Quantity("smooth MPRT Spearman (trained vs random)", better=DOWN),
    "efficient_mprt": Quantity("Efficient MPRT (entropy change)", better=UP, low=-1.0),
    "entropy": Quantity("entropy", "nats"),
    "pointing_game_clean_model": Quantity("pointing game, clean model (control)"),
    "pointing_chance": Quantity("pointing chance"),
    "pointing_chance_clean_model": Quantity("pointing chance, clean model"),
    "randomization_abs_spearman": Quantity("randomisation |Spearman| per image", better=DOWN),
    "randomization_spearman": Quantity("randomisation Spearman, signed mean (not ranked)"),
    "randomization_ssim": Quantity("randomisation SSIM", better=DOWN),
    "randomization_degenerate_maps": Quantity("degenerate maps after randomisation", "count"),
    "randomization_degenerate_share": Quantity("share of maps constant after randomisation"),
    "cross_image_similarity": Quantity("map similarity across images of a class (1: input-independent)"),
    "sparseness": Quantity("sparseness (Gini)"), "images_per_second": Quantity("speed", "images/s", better=UP),
    "mean rank": Quantity("mean rank", better=DOWN),
    # 03 and 05, rows of the TCAV and latent summaries
    "random controls significant": Quantity("random controls significant", "count", better=DOWN),
    "Jacobian vs finite differences, relative error": Quantity("Jacobian vs finite differences, relative error",
                                                               better=DOWN),
    "latent IG completeness error": Quantity("latent IG completeness error", better=DOWN),
    # 05: disentanglement scores (0 = chance, 1 = perfect)
    "mig": Quantity("MIG", better=UP), "sap": Quantity("SAP", better=UP),
    "dci_disentanglement": Quantity("DCI disentanglement", better=UP),
    "dci_completeness": Quantity("DCI completeness", better=UP),
    "dci_informativeness": Quantity("DCI informativeness", better=UP),
    "dci_dislib_disentanglement": Quantity("DCI disentanglement (dislib)", better=UP),
    "dci_dislib_completeness": Quantity("DCI completeness (dislib)", better=UP),
    "dci_dislib_informativeness": Quantity("DCI informativeness (dislib)", better=UP),
    "factorvae": Quantity("FactorVAE", better=UP), "betavae": Quantity("BetaVAE", better=UP),
    "factorvae_raw": Quantity("FactorVAE, raw accuracy", better=UP),
    "betavae_raw": Quantity("BetaVAE, raw accuracy", better=UP),
    "factorvae_num_factors": Quantity("FactorVAE factors"), "betavae_num_factors": Quantity("BetaVAE factors"),
    # 06: augmentation, human ratings, cost
    "real_fraction": Quantity("share of the real training data"), "n_train": Quantity("training images"),
    "n_real": Quantity("real images available"), "n_synthetic": Quantity("GAN images"),
    "mean_rating": Quantity("mean rating", "1–5", better=UP), "strength": Quantity("Bradley–Terry strength", better=UP),
    "log_strength": Quantity("log strength", better=UP), "rank": Quantity("rank", better=DOWN),
    "seconds": Quantity("wall time", "s", better=DOWN), "computed_seconds": Quantity("computed in", "s", better=DOWN),
    "peak_memory_mb": Quantity("peak memory", "MB", better=DOWN),
    "slowest_cell": Quantity("slowest cell"), "reused_from": Quantity("reused from run"), "runner_torch_threads": Quantity("torch threads"),
    "n_seeds": Quantity("seeds"), "num_seeds": Quantity("seeds"), "p_paired_t": Quantity("paired t-test p"),
}


#: 02's explanation-quality metrics that rank the methods (their directions are above). Metrics that describe rather
#: than grade (``sparseness``, ``entropy``) and cost (``images_per_second``, which belongs to the cost table) have no
#: rank, so the mean rank is about quality only.
EXPLANATION_GRADED = ("deletion_auc.zero", "deletion_auc.blur", "insertion_auc.zero", "insertion_auc.blur", "road.morf",
                      "road.lerf",
                      "infidelity", "max_sensitivity", "pointing_game", "relevance_mass_accuracy",
                      "relevance_rank_accuracy", "randomization_abs_spearman", "randomization_ssim", "random_logit",
                      "smooth_mprt", "efficient_mprt")


def quantity(name: str) -> Quantity:
    """The entry for ``name``; an unknown name gets its own label and no direction rather than a guessed one."""
    return QUANTITIES.get(name, Quantity(name.replace("_", " ")))
