"""A run killed (SIGKILL) in each stage, then run again: no temporary file, no stale output, and the
results of an uninterrupted run."""

import subprocess
import sys
import textwrap

import pytest

from alpfusion import workflow

from .test_workflow import SMALL, digests, small_config

KILLER = textwrap.dedent("""
    import os, signal, sys
    from alpfusion import workflow
    from alpfusion.config import load_config

    stage, count = sys.argv[2], int(sys.argv[3])

    class Killer(workflow.SilentProgress):
        seen = 0
        current = ""

        def stage(self, name, total=None, unit=""):
            self.current = name
            if name.startswith(stage) and count == 0:
                os.kill(os.getpid(), signal.SIGKILL)

        def advance(self, n=1):
            if self.current.startswith(stage):
                self.seen += 1
                if self.seen == count:
                    os.kill(os.getpid(), signal.SIGKILL)

    cfg = load_config().replace(**{SMALL!r})
    workflow.run(cfg, sys.argv[1], progress=Killer())
""").replace("{SMALL!r}", repr(SMALL))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "output"
    workflow.run(small_config(), out)
    return out


@pytest.mark.parametrize(
    "stage, count",
    [
        ("generating", 2),  # between the chunks of a sample: the chunks drawn are kept, the rest drawn
        ("processing", 0),  # the samples complete, before the histograms
        ("limits", 1),  # one mass point's workspace written into the new limits folder
    ],
)
def test_killed_run_then_rerun(uninterrupted, tmp_path, stage, count):
    out = tmp_path / "output"
    killed = subprocess.run([sys.executable, "-c", KILLER, str(out), stage, str(count)], capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    if stage == "generating":
        assert list(out.rglob(".*.chunks-*/chunk*.npz")), "the kill should have left kept chunks behind"
    elif stage != "processing":
        assert list(out.rglob(".*.tmp-*")), "the kill should have left a temporary behind"
    workflow.run(small_config(), out)
    assert not list(out.rglob(".*.tmp-*")) and not list(out.rglob(".*.old-*")) and not list(out.rglob(".*.chunks-*"))
    assert digests(out) == digests(uninterrupted)
    assert sorted(p.name for p in (out / "limits/workspaces").iterdir()) == ["ma1p000.json", "ma3p000.json"]
