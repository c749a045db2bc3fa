"""Coffea processing: detector model, observables, per-mass selection, histograms (docs/processing.md)."""
