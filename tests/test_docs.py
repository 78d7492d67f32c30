"""What the README and the docs show still runs.

- README.md's ``python`` blocks run, in a fresh interpreter in a temporary directory; a
  block that trains runs shortened by ``README_SHORTENED``.
- Every ``rllib-dynamite`` command in the shell blocks of ``COMMAND_DOCS`` parses with
  the CLI's own parser, and every path it names under ``tune_configs/`` or
  ``docs/results_data/`` exists. Bash reads each block, with ``rllib-dynamite`` defined
  as a function that records its arguments and every other command a no-op, so the
  shell's own rules expand line continuations, the variables a block sets (``$T``,
  ``$D``), its functions, loops and globs; nothing trains.
- The README's set-up commands are ``make train`` and ``make test``, and both make
  targets resolve (``make -n``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from rllib_dynamite.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
COMMAND_DOCS = (
    "README.md",
    "docs/usage.md",
    "docs/configs.md",
    "docs/custom_envs.md",
    "docs/results.md",
)
SHELL_LANGUAGES = ("", "bash", "sh", "shell", "console")
CHECKED_PATH_PREFIXES = ("tune_configs/", "docs/results_data/")

# A README block that trains runs these substitutions, each of which must occur in it:
# a README that no longer holds one fails here rather than run a block unshortened.
README_SHORTENED = (
    ("for _ in range(100):", "for _ in range(1):"),  # one training iteration
    ("num_env_runners=1", "num_env_runners=0"),  # sample in the driver, no actor to start
)

# Stand-ins for the docs' own placeholders, each of which must occur in its page.
# Besides these, a command's `<name>` reads as a value and `[--flag ...]` as given.
PLACEHOLDERS = (
    # (page, as shown, as checked): one of "each of the six" calibration files
    (
        "docs/results.md",
        "tune_configs/calibration/ENV.yaml",
        "tune_configs/calibration/gridnavi.yaml",
    ),
    # one (seed, p) pair of the p sweep
    ("docs/results.md", "--seeds S --grid p=P", "--seeds 0 --grid p=0.05"),
)

# Runs before each block: `rllib-dynamite` appends the line it was called from (the
# outermost caller's, so a command inside a block's function counts where the function
# is called) and its arguments to $DOC_COMMANDS; any other command does nothing.
SHELL_PROLOGUE = r"""
rllib-dynamite() {
  { printf '%s\0' "${BASH_LINENO[${#BASH_LINENO[@]}-2]}" "$@"; printf '\036'; } >> "$DOC_COMMANDS"
}
command_not_found_handle() { return 0; }
"""

COMMAND_START = re.compile(r"^(?:\.venv/bin/)?rllib-dynamite(?:\s|$)")
PROMPT = "$ "
# A command the CLI prints as a next step, e.g. `  plot:     rllib-dynamite plot ...`.
SUGGESTION = re.compile(r"^\s+[a-z]+:\s+(rllib-dynamite\s.*)$")


@dataclass(frozen=True)
class Block:
    language: str
    line: int  # the page's line number of the block's first line
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@dataclass(frozen=True)
class Command:
    doc: str
    line: int
    argv: tuple[str, ...]
    error_example: bool  # shown with the `error: ...` it prints: it names no real file

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: rllib-dynamite {' '.join(self.argv)}"


def fenced_blocks(path: Path) -> list[Block]:
    """The page's ``` blocks, in order."""
    blocks: list[Block] = []
    language: str | None = None
    body: list[str] = []
    start = 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith("```"):
            if language is None:
                language, body, start = line[3:].strip(), [], number + 1
            else:
                blocks.append(Block(language, start, tuple(body)))
                language = None
        elif language is not None:
            body.append(line)
    assert language is None, f"{path}: a ``` block is not closed"
    return blocks


# --- README.md's Python blocks -------------------------------------------------------------


def _readme_python_blocks() -> list[Block]:
    return [block for block in fenced_blocks(README) if block.language == "python"]


def shortened(block: Block) -> str:
    """The block as the test runs it: ``README_SHORTENED`` applied where it trains."""
    text = block.text
    if ".train()" not in text:
        return text
    for shown, run in README_SHORTENED:
        assert text.count(shown) == 1, (
            f"README.md:{block.line}: the training block no longer holds {shown!r}; "
            "update README_SHORTENED so the test still shortens what the README runs"
        )
        text = text.replace(shown, run)
    return text


def test_the_readme_shows_a_training_block():
    """Without one, the shortening above would test nothing."""
    assert any(".train()" in block.text for block in _readme_python_blocks())


@pytest.mark.parametrize(
    "block", _readme_python_blocks(), ids=lambda block: f"README.md:{block.line}"
)
def test_readme_python_block_runs(block, tmp_path):
    environment = {
        **os.environ,
        "RAY_ADDRESS": "local",  # its own Ray, whatever else runs on the machine
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    script = tmp_path / "block.py"
    script.write_text(shortened(block))
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"README.md:{block.line} failed:\n{run.stderr[-4000:]}"
    if ".train()" in block.text:
        # It prints the training return and the termination F1, then saves a checkpoint
        # under the working directory.
        printed = run.stdout.split()[-2:]
        assert len(printed) == 2 and all(float(value) == float(value) for value in printed)
        (checkpoint,) = re.findall(r'save_to_path\(.*?"([^"]+)"', block.text)
        assert (tmp_path / checkpoint / "rllib_checkpoint.json").is_file()


# --- The commands the pages show -----------------------------------------------------------


def _page_with_stand_ins(doc: str) -> str:
    text = (ROOT / doc).read_text()
    for page, shown, stand_in in PLACEHOLDERS:
        if page == doc:
            assert shown in text, f"{doc} no longer shows {shown!r}; update PLACEHOLDERS"
            text = text.replace(shown, stand_in)
    return text


def _as_script(block: Block) -> tuple[list[str], set[int]]:
    """The block as a shell script, line for line (so bash's line numbers are the
    block's), and the lines of its error examples. A block with `$ ` prompts keeps only
    its commands and the commands they print as suggestions; the rest is output."""
    prompted = any(line.startswith(PROMPT) for line in block.lines)
    script: list[str] = []
    error_examples: set[int] = set()
    continued = False
    start = 0  # the script's line of the prompted command being read
    for index, line in enumerate(block.lines):
        if prompted:
            suggestion = SUGGESTION.match(line)
            if line.startswith(PROMPT) or continued:
                start = start if continued else index + 1
                line = line.removeprefix(PROMPT)
                following = block.lines[index + 1] if index + 1 < len(block.lines) else ""
                if not line.endswith("\\") and following.startswith("error:"):
                    error_examples.add(start)
            elif suggestion:
                line = suggestion.group(1)
            else:
                line = ""
            continued = line.endswith("\\")
        line = line.replace(".venv/bin/", "")
        line = re.sub(r"<[A-Za-z][\w ]*>", "PLACEHOLDER", line)
        line = re.sub(r"\[(--[^\]]*)\]", r"\1", line)
        script.append(line)
    return script, error_examples


def commands_shown(doc: str, scratch: Path) -> list[Command]:
    """Every ``rllib-dynamite`` command the page's shell blocks run, as bash expands it
    in the repository's root."""
    scratch.mkdir(exist_ok=True)
    page = scratch / "page.md"
    page.write_text(_page_with_stand_ins(doc))
    prologue = scratch / "prologue.sh"
    prologue.write_text(SHELL_PROLOGUE)
    empty = scratch / "no_programs"
    empty.mkdir(exist_ok=True)
    commands: list[Command] = []
    for block in fenced_blocks(page):
        if block.language not in SHELL_LANGUAGES:
            continue
        script, error_examples = _as_script(block)
        if not any("rllib-dynamite" in line for line in script):
            continue
        (scratch / "block.sh").write_text("\n".join(script) + "\n")
        log = scratch / "commands"
        log.write_bytes(b"")
        run = subprocess.run(
            ["/bin/bash", str(scratch / "block.sh")],
            cwd=ROOT,
            env={
                "PATH": str(empty),
                "HOME": str(scratch),
                "BASH_ENV": str(prologue),
                "DOC_COMMANDS": str(log),
            },
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "syntax error" not in run.stderr, f"{doc}:{block.line}: {run.stderr}"
        recorded = [record.split("\0")[:-1] for record in log.read_text().split("\036") if record]
        assert recorded, f"{doc}:{block.line}: the block names rllib-dynamite but runs none"
        block_commands = [
            Command(doc, block.line + int(line) - 1, tuple(argv), int(line) in error_examples)
            for line, *argv in recorded
        ]
        # Every line that starts a command ran it: a block bash reads otherwise than it
        # looks would drop commands silently.
        starts = {i for i, line in enumerate(script, start=1) if COMMAND_START.match(line.strip())}
        missed = starts - {int(line) for line, *_ in recorded}
        assert not missed, f"{doc}: bash did not run the commands at lines " + ", ".join(
            str(block.line + i - 1) for i in sorted(missed)
        )
        commands.extend(block_commands)
    return commands


def _parse_error(argv: tuple[str, ...]) -> str | None:
    """argparse's message where the CLI's parser rejects ``argv``, else None."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            _parser().parse_args(list(argv))
    except SystemExit as exit_:
        if exit_.code != 0:
            return stderr.getvalue().strip().splitlines()[-1]
    return None


def _missing_paths(argv: tuple[str, ...]) -> list[str]:
    # An unmatched glob reaches the command as written, so it shows here as missing.
    return [
        argument
        for argument in argv
        if argument.startswith(CHECKED_PATH_PREFIXES) and not (ROOT / argument).exists()
    ]


@pytest.mark.parametrize("doc", COMMAND_DOCS)
def test_every_command_shown_parses_and_names_files_that_exist(doc, tmp_path):
    commands = commands_shown(doc, tmp_path)
    assert commands, f"{doc} shows no rllib-dynamite command: is the extraction broken?"
    failures = []
    for command in commands:
        if error := _parse_error(command.argv):
            failures.append(f"{command}\n    {error}")
        if not command.error_example and (missing := _missing_paths(command.argv)):
            failures.append(f"{command}\n    no such file (or no match): {', '.join(missing)}")
    assert not failures, "\n".join(failures)


def test_the_checks_reject_a_bad_command():
    """The parser and the path check above catch what they are there for."""
    assert "invalid choice" in _parse_error(("trian", "--env", "x"))
    assert "unrecognized arguments" in _parse_error(("tune", "x.yaml", "--sead", "1"))
    assert _parse_error(("tune", "tune_configs/local/gridnavi.yaml", "--seeds", "0,1")) is None
    assert _missing_paths(("tune_configs/local/nope.yaml", "docs/results_data/x-*.parquet")) == [
        "tune_configs/local/nope.yaml",
        "docs/results_data/x-*.parquet",
    ]


# --- The two set-up commands ---------------------------------------------------------------


def _dry_run(target: str) -> str:
    run = subprocess.run(
        ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, f"make -n {target}:\n{run.stderr}"
    return run.stdout


def test_the_readme_set_up_is_make_train_and_make_test():
    text = README.read_text()
    heading = text[: text.index("\n## Set-up")].count("\n") + 2
    block = next(b for b in fenced_blocks(README) if b.line > heading)
    commands = [line.split("#")[0].strip() for line in block.lines if line.strip()]
    assert block.language == "bash" and commands == ["make train", "make test"]


def test_make_train_runs_the_command_usage_md_shows():
    """`make -n train` resolves, and its command parses and is the one docs/usage.md
    says it runs."""
    recipe = _dry_run("train").replace("\\\n", " ")
    (command,) = [line for line in recipe.splitlines() if "rllib-dynamite " in line]
    argv = tuple(command.split("rllib-dynamite ", 1)[1].split())
    assert _parse_error(argv) is None
    (shown,) = re.findall(r"^\$ make train\s+# rllib-dynamite (.+)$", _usage(), re.MULTILINE)
    assert tuple(shown.split()) == argv


def test_make_test_runs_the_default_test_run():
    recipe = _dry_run("test")
    assert re.search(r"-m pytest .*-m \"not slow\"", recipe), recipe


def _usage() -> str:
    return (ROOT / "docs/usage.md").read_text()


def test_commands_shown_reads_a_block_as_bash_does(tmp_path):
    """Continuations, a block's variables, functions, loops and globs, prompts with their
    output and error examples, placeholders."""
    page = tmp_path / "page.md"
    page.write_text(
        "```bash\n"
        "T=tune_configs\n"
        "rllib-dynamite tune $T/local/gridnavi.yaml \\\n"
        "    --seeds 0,1\n"
        'tune() { .venv/bin/rllib-dynamite tune "tune_configs/$1.yaml" "${@:2}"; }\n'
        "for env in reacher; do tune local/$env --presets rl2; done\n"
        "rllib-dynamite plot docs/results_data/reacher_local-*_2026-12-06_71b9c69.parquet\n"
        "rllib-dynamite diagnose beliefs results/<study> [--env-velocity]\n"
        "```\n"
        "```\n"
        "$ rllib-dynamite tune nope.yaml\n"
        "error: no such experiment file: nope.yaml\n"
        "  plot:     rllib-dynamite plot results/x --out curves.png\n"
        "```\n"
    )
    doc = os.path.relpath(page, ROOT)
    commands = commands_shown(doc, tmp_path / "scratch")
    shown = [(c.line, c.argv[:3], c.error_example) for c in commands]
    globbed = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob(
        "docs/results_data/reacher_local-*_2026-12-06_71b9c69.parquet"))  # fmt: skip
    assert len(globbed) >= 2
    assert shown == [
        (3, ("tune", "tune_configs/local/gridnavi.yaml", "--seeds"), False),
        (6, ("tune", "tune_configs/local/reacher.yaml", "--presets"), False),
        (7, ("plot", *globbed[:2]), False),
        (8, ("diagnose", "beliefs", "results/PLACEHOLDER"), False),
        (11, ("tune", "nope.yaml"), True),
        (13, ("plot", "results/x", "--out"), False),
    ]
    assert commands[3].argv[-1] == "--env-velocity"
