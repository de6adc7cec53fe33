"""The examples of README.md and docs/*.md tagged `<!-- doctest: cuda -->` run as written on the
CUDA device (Numba's simulator in CI); see tests/doc_blocks.py."""
import pytest

from doc_blocks import PAGES, blocks, run

CUDA_BLOCKS = [b for p in PAGES for b in blocks(p) if b.tag == "cuda"]


def test_cuda_pages_have_examples():
    assert any(b.page.name == "cuda.md" for b in CUDA_BLOCKS)


@pytest.mark.parametrize("block", CUDA_BLOCKS, ids=lambda b: b.name)
def test_cuda_example_runs(block, tmp_path):
    run(block, {"__name__": "__main__"}, tmp_path)
