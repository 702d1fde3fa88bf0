"""``python -m xai_helpers.runner``: the study runner's entry point, kept where it always was; the runner itself
lives in :mod:`xai_helpers.running.runner`."""
import sys

from .running.runner import main

if __name__ == "__main__":
    sys.exit(main())
