"""How a study notebook begins: one call that checks its parameters, starts the session, loads the data and
returns the classifier it explains (:mod:`.notebook_opening`). It assembles the parts and stands above them, below
the roof that runs and reports the study."""
from .notebook_opening import IMAGES, Opening, judging_classifier, open_notebook

__all__ = ["IMAGES", "Opening", "judging_classifier", "open_notebook"]
