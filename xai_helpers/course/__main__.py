"""``./run_all.sh --course [build] [--only NAME ...] [--fresh-cache]`` builds the course into ``course/dist/``;
``./run_all.sh --course grade NAME FOLDER`` grades a folder of submissions offline into ``FOLDER/scores.csv``;
``./run_all.sh --course written NAME FOLDER`` collects their written answers, question by question;
``./run_all.sh --course release NAME FOLDER --deadline WHEN`` writes each student's feedback page, after the deadline."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .build import DIST_DIR, build_course
from .feedback import RELEASE_FOLDER, parse_deadline, release_feedback
from .grading import DEFAULT_TIMEOUT, failed, grade_folder
from .lab import ASSIGNMENTS
from .written_answers import collect_written


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run_all.sh --course", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="otter assign every master: student and autograder versions (the default)")
    b.add_argument("--only", nargs="+", choices=ASSIGNMENTS, metavar="NAME",
                   help=f"build only these ({', '.join(ASSIGNMENTS)})")
    b.add_argument("--dist", default=str(DIST_DIR), help="output folder (default: course/dist)")
    b.add_argument("--fresh-cache", action="store_true",
                   help="give each assignment an empty model cache (times are then from an empty cache)")
    g = sub.add_parser("grade", help="grade a folder of submitted notebooks offline (otter run, no Docker)")
    g.add_argument("name", choices=ASSIGNMENTS, metavar="NAME", help=f"one of {', '.join(ASSIGNMENTS)}")
    g.add_argument("folder", help="folder of submitted .ipynb files")
    g.add_argument("--dist", default=str(DIST_DIR), help="where the course was built (default: course/dist)")
    g.add_argument("--out", default=None, help="scores table (default: FOLDER/scores.csv)")
    g.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 1) // 2),
                   help="submissions graded at once (default: half the CPU cores, at least 1)")
    g.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds one submission may run before it is stopped and recorded (default {DEFAULT_TIMEOUT})")
    g.add_argument("--roster", default=None,
                   help="CSV with the columns student,file: scores name the student (default: the file name)")
    g.add_argument("--strict", action="store_true",
                   help="stop at the first cell that raises, naming it (to check a course's own notebooks)")
    w = sub.add_parser("written", help="collect the written answers of a folder of submissions, question by question")
    w.add_argument("name", choices=ASSIGNMENTS, metavar="NAME", help=f"one of {', '.join(ASSIGNMENTS)}")
    w.add_argument("folder", help="folder of submitted .ipynb files")
    w.add_argument("--roster", default=None, help="CSV with the columns student,file (default: the file name)")
    r = sub.add_parser("release", help="after the deadline: one feedback page per student from a graded folder")
    r.add_argument("name", choices=ASSIGNMENTS, metavar="NAME", help=f"one of {', '.join(ASSIGNMENTS)}")
    r.add_argument("folder", help="the folder graded with 'grade' (its scores.csv and feedback/)")
    r.add_argument("--deadline", required=True,
                   help="the last deadline, extensions included (ISO 8601, e.g. 2026-12-20T23:59): refused before it")
    r.add_argument("--out", default=None, help=f"folder of the pages (default: FOLDER/{RELEASE_FOLDER})")
    return p


def with_command(argv: list[str]) -> list[str]:
    """``build`` is the default command: options alone build. ``--help`` alone shows both commands."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        return ["build", *argv]
    return argv


def main(argv=None) -> int:
    argv = with_command(list(sys.argv[1:] if argv is None else argv))
    p = build_parser()
    args = p.parse_args(argv)
    try:
        if args.command == "build":
            table = build_course(args.only, args.dist, fresh_cache=args.fresh_cache)
            print(table.to_string(index=False))
            print(f"Student notebooks: {args.dist}/student/  autograders: {args.dist}/autograder/")
        elif args.command == "release":
            pages = release_feedback(args.name, args.folder, parse_deadline(args.deadline), out=args.out)
            print(f"{len(pages)} feedback pages in {args.out or Path(args.folder) / RELEASE_FOLDER}: hand them out")
        elif args.command == "written":
            table = collect_written(args.name, args.folder, roster=args.roster)
            print(f"{len(table)} submissions; written answers per question in {args.folder}/written/")
            unread = table[table["error"] != ""]
            for submission, error in zip(unread["submission"], unread["error"]):
                print(f"run_all.sh --course written: {submission}: {error}", file=sys.stderr)
            return 1 if len(unread) else 0
        else:
            table = grade_folder(args.name, args.folder, dist=args.dist, out=args.out, strict=args.strict,
                                 jobs=args.jobs, timeout=args.timeout, roster=args.roster)
            print(table.drop(columns=["error", "note"]).to_string(index=False))
            for submission, note in zip(table["submission"], table["note"].fillna("")):
                if note:
                    print(f"run_all.sh --course grade: {submission}: {note}", file=sys.stderr)
            errors = table[table["submission"].isin(failed(table))]
            for submission, error in zip(errors["submission"], errors["error"]):
                print(f"run_all.sh --course grade: {submission} not graded: {error}", file=sys.stderr)
            if len(errors):
                print(f"run_all.sh --course grade: {len(errors)} of {len(table)} submissions not graded "
                      "(their rows in the scores table say why)", file=sys.stderr)
                return 1
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"run_all.sh --course: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
