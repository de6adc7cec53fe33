"""Every code example in README.md and docs/*.md runs as written and prints what the page shows
(conventions in doc_blocks.py). Blocks that need a CUDA device run in tests/cuda/test_cuda_docs.py."""
import shutil
import sys

import pytest

from doc_blocks import PAGES, blocks, is_session, run

SCRIPTS = [b for p in PAGES if not is_session(p) for b in blocks(p)
           if b.tag is None and b.lang == "python"]
SESSIONS = [p for p in PAGES if is_session(p)]


def test_examples_are_found():
    assert len(SCRIPTS) >= 10 and SESSIONS
    assert all(blocks(p) for p in PAGES if p.name in ("README.md", "inspecting.md"))


@pytest.mark.parametrize("block", SCRIPTS, ids=lambda b: b.name)
def test_example_runs(block, tmp_path):
    run(block, {"__name__": "__main__"}, tmp_path)


@pytest.mark.parametrize("page", SESSIONS, ids=lambda p: p.name)
def test_session_runs(page, tmp_path, monkeypatch):
    """The page's blocks in order, in one namespace and one directory (modules a block writes
    there and imports are forgotten afterwards)."""
    todo = [b for b in blocks(page) if b.tag is None]
    if any(b.lang == "bash" and "cc " in b.source for b in todo) and not shutil.which("cc"):
        pytest.skip(f"{page.name} compiles C and there is no C compiler")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    before = set(sys.modules)
    namespace = {"__name__": "__main__"}
    try:
        for block in todo:
            run(block, namespace, tmp_path)
    finally:
        for name in set(sys.modules) - before:
            if str(tmp_path) in (getattr(sys.modules[name], "__file__", None) or ""):
                del sys.modules[name]
