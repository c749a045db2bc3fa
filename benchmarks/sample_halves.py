"""Draws or trainings: g(Lambda) from each half of a background sample (every other event, weights
doubled), for the run's own sample and each replica of ``alpfusion replicas``.

Run: python benchmarks/sample_halves.py [RUN_DIR] [--background NAME] [--masses M ...] [--config FILE]
RUN_DIR is the output folder of a default run (``alpfusion run``; default output) after ``alpfusion
replicas --background NAME`` (default ee_to_eegg) has written its replicas into RUN_DIR/replicas. Each
half is written to RUN_DIR/halves/<sample key>_<half>/ (kept for reruns while the sample's key stays;
its events renumbered, so the detector model smears them anew), processed with the run's signal and
other background samples and its optimised cuts (``workflow.process``), and its g(Lambda) printed
per mass (``training_ladder.g_lambda``; FILE overlays the default configuration's statistics, e.g.
``statistics: {floor_neighbourhood: null}``). The halves of one sample share its vegas maps and
differ only in their draws: where they agree with each other but not with other samples, the limit
follows the training, not the number of draws (docs/statistics.md, "The neighbourhood floor"). About
one minute per half.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from training_ladder import MASSES, g_lambda

from alpfusion import workflow
from alpfusion.config import load_config
from alpfusion.samples.rootio import read_metadata, read_sample, write_sample


class HalfSample:
    """Every other event of a sample's ``arrays`` (with its metadata ``meta``), from ``first``, with
    doubled weights (the ``write_sample`` stream)."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict, first: int):
        self._meta = meta
        self.particles = tuple(meta["particles"])
        self._arrays = {name: values[first::2] for name, values in arrays.items()}
        self._arrays["weight"] = 2.0 * self._arrays["weight"]
        self._arrays["event"] = np.arange(len(self._arrays["weight"]), dtype=arrays["event"].dtype)

    def chunks(self):
        yield self._arrays

    def metadata(self) -> dict:
        return {k: v for k, v in self._meta.items() if k not in ("n_events", "particles")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", default="output")
    parser.add_argument("--background", default="ee_to_eegg")
    parser.add_argument("--masses", type=float, nargs="+", default=MASSES)
    parser.add_argument("--config", help="configuration overlaying the default (its statistics)")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    cfg = workflow.with_cuts(load_config(args.config), run_dir / "cuts" / "cuts.yaml")
    name = f"{args.background}.root"
    held = [p for p in sorted((run_dir / "samples").glob("*.root")) if p.name != name]
    samples = [run_dir / "samples" / name, *sorted(run_dir.glob(f"replicas/*_seed*/{name}"))]
    print(f"g(Lambda) of each half of {args.background}; masses (GeV): " + " ".join(f"{m:g}" for m in args.masses))
    for path in samples:
        key = read_metadata(path)["sample_key"][:12]
        halves = [run_dir / "halves" / f"{key}_{first}" / name for first in (0, 1)]
        if not all(half.exists() for half in halves):
            arrays, meta = read_sample(path)
            for first, half in enumerate(halves):
                half.parent.mkdir(parents=True, exist_ok=True)
                write_sample(half, HalfSample(arrays, meta, first))
        for first, half in enumerate(halves):
            limits = g_lambda(workflow.process(cfg, [*held, half], half.parent / "histograms"), cfg, args.masses)
            print(f"{str(path)[-45:]:>45} half {first}: " + " ".join(f"{limits[m]:.3e}" for m in args.masses))


if __name__ == "__main__":
    main()
