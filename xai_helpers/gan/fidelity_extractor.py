"""The torch-fidelity feature extractor over a classifier of the study (see :mod:`.fidelity`). A module of its own
because subclassing torch-fidelity's base class imports torch-fidelity, which imports torchvision and torch._dynamo
(~1.2 s): only the notebooks that compute fidelity metrics pay for that."""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

from .feature_sites import capture_features

#: The classifier each registered extractor name stands for (torch-fidelity instantiates by name), its hidden layer
#: and its feature scale (:func:`.fidelity.register_classifier_features` fills them).
CLASSIFIERS: dict[str, nn.Module] = {}
HIDDEN_LAYERS: dict[str, str] = {}
FEATURE_SCALES: dict[str, float] = {}


class ClassifierFeatures(FeatureExtractorBase):
    """A torch-fidelity feature extractor over a registered classifier: features ``hidden`` and ``logits``.

    Inputs are uint8 images (N, C, H, W) as torch-fidelity requires; they are scaled to [0, 1], the range the
    study's classifiers were trained on. Instances are created by torch-fidelity from the registered name.
    """

    def __init__(self, name, features_list, **kwargs):
        super().__init__(name, features_list)
        if name not in CLASSIFIERS:
            raise ValueError(f"feature extractor {name!r} has no classifier; call register_classifier_features first")
        self.classifier = copy.deepcopy(CLASSIFIERS[name]).cpu().eval()
        self.hidden_layer = HIDDEN_LAYERS[name]
        self.scale = FEATURE_SCALES[name]
        self._captured: list[torch.Tensor] = []
        capture_features(self.classifier, self.hidden_layer, self._captured)

    @staticmethod
    def get_provided_features_list():
        return "hidden", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits", "fid": "hidden", "kid": "hidden", "prc": "hidden"}[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return None

    def forward(self, x):
        if not (torch.is_tensor(x) and x.dtype == torch.uint8 and x.dim() == 4):
            raise TypeError(f"expected uint8 images (N, C, H, W), got {getattr(x, 'dtype', type(x))} "
                            f"{tuple(getattr(x, 'shape', ()))}")
        self._captured.clear()
        logits = self.classifier(x.float() / 255)
        features = {"hidden": self._captured[0].flatten(1).float() / self.scale, "logits": logits.float()}
        self._captured.clear()
        return tuple(features[name] for name in self.features_list)
