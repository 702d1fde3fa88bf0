"""Teaching: the course's assignments (``course/``), built and graded with otter-grader.

- :mod:`.lab`: what a student's notebook starts with (data and the study's models at the ``course`` profile);
- :mod:`.figures`: figures that show a student's answer, or say which question to complete first;
- :mod:`.perturbation`: assignment 6's segments, per-segment scores and agreement across seeds;
- :mod:`.build`: ``otter assign`` on every master notebook (``./run_all.sh --course``);
- :mod:`.grading`: ``otter run`` over a folder of submissions, offline, into a scores table.
"""
from .lab import ASSIGNMENTS, Lab, answered, start_assignment

__all__ = ["ASSIGNMENTS", "Lab", "answered", "start_assignment"]
