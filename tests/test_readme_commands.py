"""Every command the documentation prints runs as typed (issue 32, item 8): each ``./run_all.sh`` line is checked
against the parser of its mode (the real ``--help``: options, choices, notebook parameters given with ``-p``, course
assignments), a tool or program is called through ``.venv/bin/`` (outside the environment it is not on PATH), and
each ``.venv/bin/`` program or tool is asked for its ``--help`` and must know every option used."""
from __future__ import annotations

import re
import shlex
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "CONTRIBUTING.md", "docs/ARCHITECTURE.md", "docs/study.md", "docs/own_model.md",
        "workflow/README.md", "course/README.md")
#: How a command starts (after any VAR=value): what the reader types.
COMMAND = re.compile(r"^(?:[A-Z_]+=\S+\s+)*(\./run_all\.sh|\.venv/bin/\S+|python3?|papermill|snakemake|pytest|otter|"
                     r"jupyter)(\s|$)")
#: An inline code span is a command to type when it starts with the entry point or the environment, or names a
#: path or script after a program (``otter assign`` or ``snakemake -n`` in prose name an operation, not a command).
TYPED = re.compile(r"^(?:[A-Z_]+=\S+\s+)*(?:\./run_all\.sh|\.venv/bin/\S+)(\s|$)|"
                   r"^(?:python3?|papermill|snakemake|pytest)\s+.*(?:/|\.py\b|\.ipynb\b)")
#: Words a reader replaces: NAME, DIR, W.pt, <this repository> …
PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z_]*(?:\.\w+)?|<.*>|NN_.*|\.\.\.|…)$")


def commands(text: str) -> list[str]:
    """The command lines of a Markdown text: lines of fenced blocks (continuations joined, comments cut) and inline
    code spans that start like a command."""
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if COMMAND.match(line):
                found.append(line)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    found += [span.strip() for span in re.findall(r"`([^`\n]+)`", prose) if TYPED.match(span.strip())]
    return found


def _tokens(command: str) -> list[str]:
    words = shlex.split(command.replace("…", "..."))
    while words and re.match(r"^[A-Z_]+=", words[0]):
        words.pop(0)
    return words


@lru_cache(maxsize=None)
def _declared_parameters() -> frozenset[str]:
    import papermill

    return frozenset(name for nb in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
                     for name in papermill.inspect_notebook(str(nb)))


def _parser_of(args: list[str]):
    """The argparse parser ``./run_all.sh ARGS`` hands its arguments to, and those arguments."""
    from xai_helpers.course.__main__ import build_parser as course_parser, with_command
    from xai_helpers.running import arguments, cache_clean, jupyter_lab

    mode = args[0] if args else ""
    if mode == "--lab":
        return jupyter_lab.build_parser(), args[1:]
    if mode == "--clean-cache":
        return cache_clean.build_parser(), args[1:]
    if mode == "--course":
        rest = with_command(args[1:])
        parser = course_parser()
        sub = parser._subparsers._group_actions[0].choices[rest[0]]
        return sub, rest[1:]
    return arguments.build_parser(), args


def run_all_problems(words: list[str]) -> list[str]:
    """What in ``./run_all.sh …`` its parser would refuse (a synopsis such as ``[--seed N | --seeds A,B,C]`` is read
    option by option)."""
    args = [w.strip("[]") for w in words[1:] if w not in ("|", "...")]
    if args and args[0] == "--test":
        return []  # pytest's own options
    parser, args = _parser_of(args)
    options = parser._option_string_actions
    problems = []
    positionals = [a for a in parser._actions if not a.option_strings]
    i = 0
    while i < len(args):
        word = args[i]
        if word.startswith("-") and not re.match(r"^-\d", word):
            name = word.split("=", 1)[0]
            action = options.get(name)
            if action is None:
                problems.append(f"{name} is not an option of `{parser.prog}`")
                i += 1
                continue
            values = args[i + 1: i + 1 + (action.nargs if isinstance(action.nargs, int) else
                                           (0 if action.nargs == 0 else 1))]
            if action.dest == "parameter" and values:
                if values[0] not in _declared_parameters() and not PLACEHOLDER.match(values[0]):
                    problems.append(f"-p {values[0]}: no notebook declares this parameter")
            elif action.choices and values:
                for value in values[0].split("|"):
                    if value not in action.choices and not PLACEHOLDER.match(value):
                        problems.append(f"{name} {value}: not one of {', '.join(map(str, action.choices))}")
            if action.nargs in ("+", "*"):  # takes words up to the next option
                i += 1
                while i < len(args) and not args[i].startswith("-"):
                    i += 1
                continue
            i += 1 + len(values)
            continue
        if positionals:
            action = positionals.pop(0)
            if action.choices and word not in action.choices and not PLACEHOLDER.match(word):
                problems.append(f"{word}: not one of {', '.join(action.choices)}")
        elif not PLACEHOLDER.match(word):
            problems.append(f"{word}: `{parser.prog}` takes no such argument")
        i += 1
    return problems


@lru_cache(maxsize=None)
def _help_of(program: tuple[str, ...]) -> str:
    done = subprocess.run([*program, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(program)} --help failed: {done.stderr[-500:]}"
    return done.stdout


def venv_problems(words: list[str]) -> list[str]:
    """A ``.venv/bin/`` program must exist; each of its options must be in its ``--help``; a tool script must exist."""
    program = words[0]
    if not (ROOT / program).exists():
        return [f"{program} does not exist after set-up"]
    if Path(program).name.startswith("python"):
        if len(words) < 2 or not words[1].endswith(".py"):
            return []
        script = ROOT / words[1]
        if not script.is_file():
            return [f"{words[1]} does not exist"]
        program_words, rest = (program, words[1]), words[2:]
    else:
        program_words, rest = (program,), words[1:]
    if not any(word.startswith("--") for word in rest):
        return []  # nothing to check against --help (and a script without --help must not be run for it)
    help_text = _help_of(program_words)
    return [f"{word.split('=')[0]} is not in `{' '.join(program_words)} --help`" for word in rest
            if word.startswith("--") and word.split("=")[0] not in help_text]


def problems_of(command: str) -> list[str]:
    words = _tokens(command)
    if words[0] == "./run_all.sh":
        return run_all_problems(words)
    if words[0].startswith(".venv/bin/"):
        return venv_problems(words)
    return [f"`{words[0]}` is not on PATH outside .venv: write .venv/bin/{words[0]}"]


@pytest.mark.parametrize("doc", DOCS)
def test_every_command_in_the_docs_runs_as_typed(doc):
    found = commands((ROOT / doc).read_text())
    bad = {command: problems for command in found if (problems := problems_of(command))}
    assert not bad, bad


def test_the_readme_prints_the_commands_it_promises():
    """Not vacuous: the README's commands are found, one per mode at least."""
    found = " ".join(commands((ROOT / "README.md").read_text()))
    for mode in ("./run_all.sh --profile smoke", "./run_all.sh --lab", "./run_all.sh --course",
                 "./run_all.sh --test", "./run_all.sh --clean-cache", "-p model_source torchvision"):
        assert mode in found, mode


def test_commands_that_would_not_run_are_caught():
    """Built to fail: a misspelt option, a bad choice, an undeclared -p, a tool without .venv/bin/, a missing
    script, an unknown option of a tool, a course assignment that does not exist."""
    text = """
```bash
./run_all.sh --profil quick
./run_all.sh --profile fast
./run_all.sh -p widht 3 \\
    --only 01
python tools/refresh_outputs.py notebooks/01_cnn_training.ipynb
.venv/bin/python tools/no_such_tool.py
.venv/bin/python tools/refresh_outputs.py --no-such-option
```
Grade with `./run_all.sh --course grade 09_nothing FOLDER`, then `papermill --help-notebook x.ipynb`.
"""
    found = commands(text)
    assert len(found) == 8, found
    verdicts = [problems_of(c) for c in found]
    assert all(verdicts), dict(zip(found, verdicts))
    assert "--profil is not an option" in verdicts[0][0] and "fast: not one of" in verdicts[1][0]
    assert "-p widht" in verdicts[2][0] and "not on PATH" in verdicts[3][0] and "does not exist" in verdicts[4][0]
    assert "--no-such-option" in verdicts[5][0] and "09_nothing" in verdicts[6][0] and "not on PATH" in verdicts[7][0]
    # and the same commands, written right, pass
    assert not problems_of("./run_all.sh --profile quick -p n_explain 8 --only 01 02")
    assert not problems_of("./run_all.sh --course grade 01_gradients FOLDER")


@pytest.mark.parametrize("doc", DOCS)
def test_every_relative_link_in_the_docs_points_at_a_file(doc):
    text = (ROOT / doc).read_text()
    links = [target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", text)
             if not re.match(r"^(https?:|mailto:|#)", target)]
    missing = [link for link in links if not ((ROOT / doc).parent / link).exists()]
    assert not missing, missing
