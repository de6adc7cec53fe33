"""The code examples of README.md and docs/*.md, as runnable blocks (used by test_docs.py and
tests/cuda/test_cuda_docs.py).

Conventions, so that a page stays readable and every example in it still runs:

- Every ```python block runs. By default it is a complete script: a fresh namespace, a temporary
  directory as the working directory.
- A page with the line `<!-- doctest: session -->` runs its blocks in order in one namespace,
  like a doctest session (for walk-throughs whose blocks build on each other).
- A ```text block right after a python block (blank lines between are fine) is its output: what
  the block prints must equal it, trailing whitespace aside.
- `<!-- doctest: cuda -->` on the line before a fence marks a block that needs a CUDA device: it
  runs in the CUDA tier (on Numba's simulator in CI), not in the main suite.
- `<!-- doctest: skip -->` on the line before a fence: not run (for what cannot run in CI).
- A ```bash block runs (`bash -e`, in the same directory) only when tagged `<!-- doctest: run -->`,
  so install commands stay inert; a ```c block whose first line is `/* file: NAME */` is written
  to NAME, for a later bash block to compile.
"""
from __future__ import annotations

import contextlib
import io
import linecache
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_MARKER = re.compile(r"<!--\s*doctest:\s*(\w+)[^>]*-->")
_FENCE = re.compile(r"^```(\S*)\s*$")


@dataclass
class Block:
    page: Path
    line: int              # 1-based line of the opening fence
    lang: str              # "python", "bash" or "c"
    source: str
    expected: str | None   # the text block that follows a python block, if any
    tag: str | None        # "cuda", "skip", "run" or None

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def is_session(page: Path) -> bool:
    return any(m.group(1) == "session" for m in _MARKER.finditer(page.read_text()))


def _fenced(lines: list[str]):
    """(language, first line index, body lines, tag) of every fenced block, in order."""
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        tag = _MARKER.search(lines[k]) if k >= 0 else None
        yield m.group(1), start, i, body, tag.group(1) if tag else None
        i += 1


def blocks(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    fenced = list(_fenced(lines))
    out = []
    for j, (lang, start, end, body, tag) in enumerate(fenced):
        if lang == "bash" and tag == "run":
            tag = None
        elif lang == "c" and body and body[0].startswith("/* file: "):
            pass
        elif lang != "python":
            continue
        expected = None
        if j + 1 < len(fenced) and fenced[j + 1][0] == "text":
            between = lines[end + 1:fenced[j + 1][1]]
            if not any(s.strip() for s in between):
                expected = "\n".join(fenced[j + 1][3])
        if lang != "python":
            expected = None
        out.append(Block(page, start + 1, lang, "\n".join(body) + "\n", expected, tag))
    return out


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def run(block: Block, namespace: dict, cwd: Path) -> None:
    """Execute the block in namespace with cwd as working directory; check its printed output."""
    if block.lang == "c":
        name = block.source.split("*/", 1)[0][len("/* file: "):].strip()
        (cwd / name).write_text(block.source)
        return
    if block.lang == "bash":
        res = subprocess.run(["bash", "-ec", block.source], cwd=cwd, capture_output=True, text=True)
        assert res.returncode == 0, f"{block.name} failed:\n{res.stdout}\n{res.stderr}"
        return
    code = compile(block.source, block.name, "exec")
    linecache.cache[block.name] = (len(block.source), None, block.source.splitlines(True), block.name)
    out = io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
    finally:
        os.chdir(old)
    if block.expected is not None:
        got, want = _normalise(out.getvalue()), _normalise(block.expected)
        assert got == want, (f"{block.name} printed\n{got}\n\nbut the page shows\n{want}")
