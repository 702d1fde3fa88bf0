"""The GAN and how it learns (notebook 04): DCGAN, conditional and InfoGAN-CR generators and discriminators, their
cached training with snapshots, generative fidelity (FID, KID, precision/recall, class coverage) and the
generator–discriminator dynamics over training, and whether the generator copies its training images
(:mod:`.memorisation`).

Figures: :mod:`.figures`."""
from .dynamics import (D_METHODS, batchnorm_as_in_training, describe_phases, diagnose, discriminator_explanations,
                       discriminator_over_training, evaluate_snapshots, history_frame, ink_share, map_rank_similarity)
from .fidelity import (class_coverage, class_histogram, collapsed_samples, corruption_ladder, default_hidden_layer,
                       extractor_info, fid, fidelity_metrics, hidden_features, inception_fid,
                       predicted_classes, register_classifier_features, scaled_features)
from .image_side import gan_image_side, resized_for_gan
from .intra_class import intra_class_fid
from .memorisation import copycat_samples, memorisation_test, without_distances
from .models import one_hot, sample_latent
from .train import (TrainedGAN, balanced_labels, decode, fixed_noise, gan_settings, generate, shapes_gan_settings,
                    to_gan_range, to_unit_range, train_gan)

__all__ = ["D_METHODS", "TrainedGAN", "balanced_labels", "batchnorm_as_in_training", "class_coverage",
           "class_histogram", "collapsed_samples", "copycat_samples", "corruption_ladder", "decode",
           "default_hidden_layer", "describe_phases", "diagnose", "discriminator_explanations",
           "discriminator_over_training", "evaluate_snapshots", "extractor_info", "fid", "fidelity_metrics",
           "fixed_noise", "gan_image_side", "gan_settings", "generate", "hidden_features", "history_frame",
           "inception_fid", "ink_share", "intra_class_fid", "map_rank_similarity", "memorisation_test", "one_hot",
           "predicted_classes", "register_classifier_features", "resized_for_gan", "sample_latent", "scaled_features",
           "shapes_gan_settings", "to_gan_range", "to_unit_range", "train_gan", "without_distances"]
