"""The README's tour, run: every ```bash and ```python block of its "A short tour" section;
and CONTRIBUTING.md's hooks, helpers and files, checked against the code (at the end).

Blocks are taken from README.md itself, so a snippet added there is covered at once, and a
snippet that stops working fails here. What the tour test changes is written in the README,
as HTML comments directly above a block (invisible when rendered, plain in the raw file):

- ``<!-- tour: skip (REASON) -->``: the block is not run, for REASON;
- ``<!-- tour: skip `TEXT` (REASON) -->``: the block's commands that contain TEXT are not run;
- ``<!-- tour: replace `OLD` with `NEW` -->``: run with OLD replaced by NEW (smaller sizes, fewer steps).

An annotation whose TEXT or OLD is not in its block fails, and so does a block of another
language, or a ```text block that is not a ``>>>`` transcript: every block has a way to run.
Python blocks run in order in one namespace, as in one session; each ```text transcript's
``>>> expression`` must raise the error its next line shows. Each bash block runs in its own
folder holding small stand-ins for the placeholder paths the tour names (`STAND_INS`); its
commands run in this process through the click group, so torch is imported once (the
torch thread count that inline trials set is put back after each block).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

README = Path(__file__).resolve().parents[1] / "README.md"
TOUR = "## A short tour"
ANNOTATION = re.compile(r"^<!-- tour: (.*) -->$")
SKIP = re.compile(r"skip(?: `([^`]+)`)? \((.+)\)")
REPLACE = re.compile(r"replace `([^`]+)` with `([^`]*)`")
FENCE = re.compile(r"^```(\w*)$")

#: The placeholder paths of the tour's commands, and what the test puts there.
STAND_INS = {
    "real/": "8 crops, 16×16, of the built-in photographs",
    "refs/": "the same crops",
    "decoded/": "those crops through JPEG at quality 10",
    "out_jpeg/": "the same JPEG copies, named like refs/",
    "out_sr/": "the crops blurred (σ = 1), named like refs/",
    "my-sweep.toml": "JPEG at qualities 10 and 50 on two built-in photographs at 64×64",
    "pmf.json": "the pmf [0.5, 0.3, 0.2]",
}

MY_SWEEP = """\
[sweep]
name = "tour"

[data]
source = "builtin:astronaut,coffee"
size = 64
split = [0, 0, 1]

[[codec]]
name = "jpeg,quality=[10, 50]"

[evaluate]
distortions = ["mse"]
perception = "wasserstein-sliced"
"""


@dataclass(frozen=True)
class Block:
    """A fenced block of the tour, with the tour annotations written directly above it."""

    lang: str
    code: str
    line: int  # of the opening fence in README.md
    annotations: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"README.md line {self.line}"

    def prepared(self) -> tuple[str, list[tuple[str, str]]]:
        """The code with the replacements made, and the (TEXT, REASON) of its partial skips."""
        code, skips = self.code, []
        for note in self.annotations:
            if m := REPLACE.fullmatch(note):
                assert m[1] in code, f"{self.where}: the tour annotation replaces {m[1]!r}, which the block does not contain"
                code = code.replace(m[1], m[2])
            elif (m := SKIP.fullmatch(note)) and m[1]:
                assert m[1] in code, f"{self.where}: the tour annotation skips commands with {m[1]!r}, which the block does not contain"
                skips.append((m[1], m[2]))
            elif not m:
                raise AssertionError(f"{self.where}: unknown tour annotation {note!r}; use skip (REASON), skip `TEXT` (REASON) or replace `OLD` with `NEW`")
        return code, skips

    @property
    def skipped(self) -> str | None:
        """The reason the whole block is not run, if it is not."""
        for note in self.annotations:
            if (m := SKIP.fullmatch(note)) and not m[1]:
                return m[2]
        return None


def tour_blocks(text: str) -> list[Block]:
    """The fenced blocks between the tour's heading and the next level-2 heading."""
    lines = text.splitlines()
    start = lines.index(TOUR)
    blocks: list[Block] = []
    notes: list[str] = []
    i = start + 1
    while i < len(lines) and not lines[i].startswith("## "):
        line = lines[i]
        if m := ANNOTATION.match(line):
            notes.append(m[1])
        elif m := FENCE.match(line):
            end = lines.index("```", i + 1)
            blocks.append(Block(m[1], "\n".join(lines[i + 1 : end]), i + 1, tuple(notes)))
            notes, i = [], end
        elif line.strip():
            assert not notes, f"README.md line {i + 1}: a tour annotation must stand directly above a fenced block"
        i += 1
    return blocks


def commands(code: str) -> list[str]:
    """The shell commands of a block, one per line, with backslash continuations joined."""
    return [c.strip() for c in code.replace("\\\n", " ").splitlines() if c.strip()]


BLOCKS = tour_blocks(README.read_text())
BASH = [b for b in BLOCKS if b.lang == "bash"]


def test_every_tour_block_has_a_way_to_run() -> None:
    assert len(BASH) >= 8 and sum(b.lang == "python" for b in BLOCKS) >= 4, "the tour section was not found where expected"
    for b in BLOCKS:
        b.prepared()  # checks the annotations
        runnable = b.lang in ("bash", "python") or (b.lang == "text" and ">>> " in b.code)
        assert runnable or b.skipped, f"{b.where}: a ```{b.lang} block in the tour has no way to run; make it bash, python or a >>> transcript, or annotate it <!-- tour: skip (REASON) -->"


def test_annotations_are_checked() -> None:
    """The parser sees annotations and refuses stale ones (so the tests above can fail)."""
    text = f"{TOUR}\n\n<!-- tour: replace `--size 192` with `--size 64` -->\n```bash\nrdpkit recover --size 128\n```\n\n## Next\n"
    (block,) = tour_blocks(text)
    with pytest.raises(AssertionError, match="does not contain"):
        block.prepared()
    with pytest.raises(AssertionError, match="directly above"):
        tour_blocks(f"{TOUR}\n<!-- tour: skip (slow) -->\ntext\n```bash\nrdpkit list\n```\n")
    assert commands("rdpkit audit --image a \\\n   --init noise   # c\n\nrdpkit list") == ["rdpkit audit --image a     --init noise   # c", "rdpkit list"]


def write_stand_ins(folder: Path) -> None:
    """The files `STAND_INS` describes, in `folder`."""
    from rdpkit.data import builtin_names, load_image, save_png
    from rdpkit.degrade import degrade

    for i, name in enumerate(builtin_names()[:8]):
        x = load_image(f"builtin:{name}", size=16)
        for sub, y in [("real", x), ("refs", x), ("decoded", degrade(x, "jpeg:10")), ("out_jpeg", degrade(x, "jpeg:10")),
                       ("out_sr", degrade(x, "blur:1"))]:
            save_png(y, folder / sub / f"{i}.png")
    (folder / "my-sweep.toml").write_text(MY_SWEEP)
    (folder / "pmf.json").write_text(json.dumps([0.5, 0.3, 0.2]))


def test_stand_ins_cover_the_tour(tmp_path: Path) -> None:
    write_stand_ins(tmp_path)
    assert sorted(p.name + ("/" if p.is_dir() else "") for p in tmp_path.iterdir()) == sorted(STAND_INS)
    used = " ".join(b.code for b in BASH)
    assert all(name in used for name in STAND_INS), "a stand-in the tour no longer names"


@pytest.mark.parametrize("block", BASH, ids=[f"line{b.line}" for b in BASH])
def test_bash_block(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from rdpkit.cli import cli

    if block.skipped:
        pytest.skip(f"{block.where}: {block.skipped}")
    code, skips = block.prepared()
    write_stand_ins(tmp_path)
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    ran = 0
    try:
        for command in commands(code):
            if any(text in command for text, _ in skips):
                continue
            args = shlex.split(command, comments=True)
            assert args[0] == "rdpkit", f"{block.where}: the tour test runs rdpkit commands only, not {command!r}"
            result = CliRunner().invoke(cli, args[1:], catch_exceptions=False)
            assert result.exit_code == 0, f"{block.where}: `{command}` exited {result.exit_code}:\n{result.output[-3000:]}"
            ran += 1
    finally:
        torch.set_num_threads(threads)
    assert ran, f"{block.where}: every command is skipped; annotate the whole block instead"


def test_python_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The python blocks in order in one namespace, and the >>> transcripts against it."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__tour__"}
    for block in BLOCKS:
        if block.skipped:
            continue
        code, _ = block.prepared()
        if block.lang == "python":
            exec(compile(code, block.where, "exec"), namespace)  # noqa: S102  (the README's own code)
        elif block.lang == "text":
            check_transcript(block, code, namespace)


def test_submodules_after_a_bare_import() -> None:
    """`rdpkit.options.Component.parse(...)`, as the tour writes it, in a fresh interpreter (here rdpkit.options is imported already)."""
    code = "import sys, rdpkit; print(rdpkit.options.Component.parse('jpeg,quality=10'), 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["jpeg,quality=10", "False"]


def check_transcript(block: Block, code: str, namespace: dict[str, object]) -> None:
    """Each ``>>> expression`` must raise the error named on the next line, with that message."""
    lines = code.splitlines()
    checked = 0
    for i, line in enumerate(lines):
        if not line.startswith(">>> "):
            continue
        kind, _, message = lines[i + 1].partition(": ")
        with pytest.raises(Exception) as caught:
            eval(line[4:], namespace)
        assert type(caught.value).__name__ == kind and str(caught.value) == message, \
            f"{block.where}: `{line[4:]}` raised {type(caught.value).__name__}: {caught.value}"
        checked += 1
    assert checked, f"{block.where}: a transcript without >>> lines"


# CONTRIBUTING.md names hooks, helpers and files of rdpkit: each must exist, so the guide cannot drift either.

ROOT = README.parent
CONTRIBUTING = (ROOT / "CONTRIBUTING.md").read_text()
NUMBERS = {w: i for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"])}


def resolve(dotted: str) -> object:
    """The object a dotted name such as ``rdpkit.codecs.headers.field`` names (the longest importable module, then attributes)."""
    import importlib

    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_contributing_counts_the_hooks() -> None:
    from rdpkit.hookspecs import HOOK_NAMES, HOOKS

    m = re.search(r"rdpkit's (\w+) hooks \((\w+) return a list of `rdpkit.Spec` records, (\w+) adds commands\)", " ".join(CONTRIBUTING.split()))
    assert m, "CONTRIBUTING.md no longer says how many hooks there are"
    assert (NUMBERS[m[1]], NUMBERS[m[2]], NUMBERS[m[3]]) == (len(HOOK_NAMES), len(HOOKS), len(HOOK_NAMES) - len(HOOKS))
    assert all(f"`{hook}" in CONTRIBUTING for hook in HOOK_NAMES), "a hook CONTRIBUTING.md does not name"


def test_contributing_names_what_exists() -> None:
    import importlib.util

    import rdpkit.codecs.headers
    import rdpkit.testing
    from rdpkit.hookspecs import HOOK_NAMES

    dotted = set(re.findall(r"\brdpkit(?:\.\w+)+", CONTRIBUTING))
    assert {"rdpkit.Bitstream", "rdpkit.Estimate", "rdpkit.codecs.headers.field"} <= dotted  # the parse sees them
    for name in sorted(dotted):
        resolve(name)  # raises for a name that is gone
    for name in set(re.findall(r"\brdpkit_[a-z_]+\b", CONTRIBUTING)) - set(HOOK_NAMES):  # not a hook: a fixture or a package
        assert hasattr(rdpkit.testing, name) or importlib.util.find_spec(name), f"CONTRIBUTING.md names {name}, which is not a hook"
    helpers = set(re.findall(r"\b(check_\w+|fresh_registry)\b", CONTRIBUTING))  # the contract tests', and the bitstream's check_shape
    assert {"check_codec", "check_divergence", "fresh_registry", "check_shape"} <= helpers
    for name in helpers:
        assert hasattr(rdpkit.testing, name) or hasattr(rdpkit.codecs.headers, name), f"CONTRIBUTING.md names {name}, which rdpkit does not have"
    paths = set(re.findall(r"(?:`|\]\()((?:rdpkit|plugins|tests|docs|benchmarks)/[\w./-]*)", CONTRIBUTING))
    assert "rdpkit/codecs/scalar.py" in paths
    example = ROOT / "plugins" / "rdpkit-example"  # the guide walks through its files
    assert not [p for p in paths if not (ROOT / p).exists() and not (example / p).exists()], "CONTRIBUTING.md names files that do not exist"


def test_no_document_cites_the_design_outside_the_repository() -> None:
    """The design document lives beside the checkout, not in it: readers of the repository cannot open it."""
    design = "DESIGN" + ".md"
    files = [*ROOT.glob("*.md"), *(p for d in ("rdpkit", "plugins", "docs", "tests", "benchmarks") for p in (ROOT / d).rglob("*")
                                   if p.suffix in (".py", ".md") and ".egg-info" not in str(p))]
    assert len(files) > 50
    assert not [str(p.relative_to(ROOT)) for p in files if design in p.read_text(errors="replace")]
