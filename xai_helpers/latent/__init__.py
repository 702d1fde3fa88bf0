"""The GAN's latent space (notebook 05): latent sensitivity (exact Jacobians, E[JᵀJ]), semantic directions (SeFa,
GANSpace, InterFaceGAN, …), latent Integrated Gradients, GAN dissection, stroke morphometry and factor read-outs,
and disentanglement metrics (MIG, SAP, DCI, FactorVAE, BetaVAE).

Figures: :mod:`.figures`."""
from . import directions, sensitivity
from .attribution import latent_integrated_gradients
from .disentanglement import (PUBLISHED_ANCHORS, discretize, disentanglement_scores, entropies, mean_over_seeds,
                              mutual_info_matrix)
from .dissection import dissect, dissection_examples, dissection_layer, generate_ablated, unit_activations, unit_masks
from .factor_regressor import read_factors, train_factor_regressor, true_readouts
from .morphometry import PROPERTIES
from .semantic_readouts import (DataReadout, data_readout, digit_readout, drawn_concept, factor_regressor_reads,
                                holds_strokes, median_split, readout_scale)

__all__ = ["DataReadout", "PROPERTIES", "PUBLISHED_ANCHORS", "data_readout", "digit_readout", "directions", "discretize",
           "disentanglement_scores", "dissect", "dissection_examples", "dissection_layer", "drawn_concept",
           "entropies", "factor_regressor_reads", "generate_ablated", "holds_strokes", "latent_integrated_gradients",
           "mean_over_seeds", "median_split", "mutual_info_matrix", "read_factors", "readout_scale", "sensitivity",
           "train_factor_regressor", "true_readouts", "unit_activations", "unit_masks"]
