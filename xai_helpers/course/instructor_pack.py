"""The instructor's pack of an assignment, written by the build to ``course/dist/instructor/<NAME>.md``: the marks
(each question's points, autograded or written, its public and hidden tests), and each written question's prompt,
model answer and rubric, with the commands that grade a class. Never handed to students: it holds the answers."""
from __future__ import annotations

from .masters import Question

#: Under course/dist/: the instructor's pack per assignment.
PACK_FOLDER = "instructor"


def instructor_pack(name: str, questions: list[Question], commit: str) -> str:
    """The pack of assignment ``name`` (its master read by :func:`~.masters.read_master`), as Markdown."""
    total = sum(q.points for q in questions)
    written = sum(q.points for q in questions if q.manual)
    lines = [f"# {name} · instructor's pack", "",
             f"Built from commit `{commit}`. Not for students: it holds the model answers and the hidden tests' names.",
             "", "## Marks", "",
             "| question | graded | points | public tests (points) | hidden tests (points) |", "|---|---|---|---|---|"]
    for q in questions:
        if q.manual:
            lines.append(f"| {q.name.upper()} | written, by the rubric below | {q.points:g} | | |")
            continue
        public = [t for t in q.tests if not t.hidden]
        hidden = [t for t in q.tests if t.hidden]
        lines.append(f"| {q.name.upper()} | autograded | {q.points:g} | {_tests(public)} | {_tests(hidden)} |")
    share = f"{written / total:.0%}" if total else "0 %"
    lines += ["", f"Total {total:g} points: {total - written:g} autograded, {written:g} written ({share}).", ""]
    lines += ["## Written questions", ""]
    for q in (q for q in questions if q.manual):
        lines += [f"### {q.name.upper()} ({q.points:g} points)", "", f"**Prompt.** {q.prompt}", "",
                  f"**Model answer.** {q.solution}", "", "**Rubric.** A sub-question's points go to an answer that "
                  "makes its point in the student's own words and with the student's own numbers; half of them "
                  "where the point is made without the reason.", ""]
        lines += [f"- ({part}) {points:g}: {words}" for part, points, words in q.rubric] + [""]
    lines += ["## Grading a class", "", "```bash",
              f"./run_all.sh --course grade {name} path/to/submissions --roster roster.csv   # scores.csv, feedback/",
              f"./run_all.sh --course written {name} path/to/submissions --roster roster.csv # written/<Q>.md",
              "```", "", "The feedback quotes the hidden tests' messages: hand it out after the deadline.", ""]
    return "\n".join(lines)


def _tests(tests) -> str:
    if not tests:
        return "none"
    return f"{len(tests)} ({sum(t.points for t in tests):g}): " + ", ".join(f"`{t.name}`" for t in tests)
