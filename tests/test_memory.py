"""astrolab.utils.memory: a fixed mmap threshold gives freed activations back (tiled runs)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import sys
    import torch

    def rss_mib():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

    if sys.argv[1] == "fixed":
        from astrolab.utils.memory import fix_mmap_threshold
        assert fix_mmap_threshold()
    base = rss_mib()
    big = torch.ones(4 << 20)      # 16 MiB, mmapped; freeing it raises glibc's threshold to 16 MiB
    del big
    blocks = [torch.ones(2 << 20) for _ in range(100)]   # 100 x 8 MiB, then all but the last freed
    keep = blocks[-1]
    del blocks
    print(round(rss_mib() - base))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc and /proc are Linux's")
def test_fixed_mmap_threshold_returns_freed_tensors_to_the_system():
    def retained(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-1000:]
        return int(out.stdout.split()[-1])

    default, fixed = retained("default"), retained("fixed")
    assert default > 500, f"glibc kept only {default} MiB: the scenario no longer fragments the heap"
    assert fixed < 100, f"{fixed} MiB still held after freeing 792 MiB with the threshold fixed"
