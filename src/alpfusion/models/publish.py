"""Published likelihoods, HEPData style: a background-only workspace and a pyhf patchset.

Every mass point has its own channel (its selection differs), holding the backgrounds after that
selection. The background-only workspace `BkgOnly.json` holds all of them, with every signal
sample removed; the patch of one mass point (labelled by m_a, pyhf PatchSet schema 1.0.0)

* removes the other mass points' channels and observations,
* inserts the signal sample where the mass point's own workspace has it,
* and sets its measurement (POI mu and its bounds),

so that `pyhf patchset apply BkgOnly.json patchset.json --name <patch>` rebuilds the mass
point's workspace exactly, and `pyhf patchset verify` checks that the patches belong to this
background-only workspace (sha256 digest).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path

import pyhf

from ..atomic import write_json
from .workspace import SIGNAL, ModelError

PATCHSET_VERSION = "1.0.0"
PLACEHOLDER_RECORD = "ins0000000"
"""The patchset schema requires a HEPData INSPIRE reference; this placeholder marks its absence."""


def _signal_position(channel: dict) -> int:
    names = [sample["name"] for sample in channel["samples"]]
    if SIGNAL not in names:
        raise ModelError(f"channel '{channel['name']}' has no '{SIGNAL}' sample to publish")
    return names.index(SIGNAL)


def background_only(workspaces: Mapping[float, dict]) -> dict:
    """All mass points' channels, signal removed, in mass order; the first mass point's measurement."""
    channels, observations = [], []
    for _, spec in sorted(workspaces.items()):
        if len(spec["channels"]) != 1:
            raise ModelError("each mass point's workspace must have exactly one channel")
        channel = copy.deepcopy(spec["channels"][0])
        del channel["samples"][_signal_position(channel)]
        channels.append(channel)
        observations.extend(copy.deepcopy(spec["observations"]))
    first = workspaces[min(workspaces)]
    return {
        "channels": channels,
        "observations": observations,
        "measurements": copy.deepcopy(first["measurements"]),
        "version": first["version"],
    }


def _patch_operations(bkg_only: dict, spec: dict) -> list[dict]:
    channel = spec["channels"][0]
    keep = [c["name"] for c in bkg_only["channels"]].index(channel["name"])
    ops = []
    for i in reversed(range(len(bkg_only["channels"]))):
        if i != keep:
            ops.append({"op": "remove", "path": f"/channels/{i}"})
    observation_names = [o["name"] for o in bkg_only["observations"]]
    for i in reversed(range(len(observation_names))):
        if observation_names[i] != channel["name"]:
            ops.append({"op": "remove", "path": f"/observations/{i}"})
    position = _signal_position(channel)
    ops.append({"op": "add", "path": f"/channels/0/samples/{position}", "value": channel["samples"][position]})
    ops.append({"op": "replace", "path": "/measurements", "value": spec["measurements"]})
    return ops


def patchset(
    bkg_only: dict,
    workspaces: Mapping[float, dict],
    names: Mapping[float, str],
    *,
    description: str,
    hepdata: str = PLACEHOLDER_RECORD,
) -> dict:
    """The patchset (schema 1.0.0) turning `bkg_only` into each mass point's workspace."""
    return {
        "metadata": {
            "name": "alpfusion_mass_scan",
            "description": description,
            "digests": {"sha256": pyhf.utils.digest(bkg_only)},
            "labels": ["m_a"],
            "references": {"hepdata": hepdata},
        },
        "patches": [
            {"metadata": {"name": names[m_a], "values": [m_a]}, "patch": _patch_operations(bkg_only, spec)}
            for m_a, spec in sorted(workspaces.items())
        ],
        "version": PATCHSET_VERSION,
    }


def publish_workspaces(
    workspaces: Mapping[float, dict],
    names: Mapping[float, str],
    out_dir: str | os.PathLike,
    *,
    description: str,
    hepdata: str = PLACEHOLDER_RECORD,
) -> tuple[Path, Path]:
    """Write `BkgOnly.json` and `patchset.json` into `out_dir`; check that every patch rebuilds its workspace.

    `hepdata` is the INSPIRE record (`ins` and 7 digits) the schema asks for; the default is a
    placeholder for results not (yet) published.
    """
    bkg_only = background_only(workspaces)
    patches = patchset(bkg_only, workspaces, names, description=description, hepdata=hepdata)
    pset = pyhf.PatchSet(patches)
    pset.verify(bkg_only)
    for m_a, spec in workspaces.items():
        if pset[names[m_a]].apply(bkg_only) != spec:
            raise ModelError(f"the patch of m_a = {m_a} does not rebuild its workspace")
    out_dir = Path(out_dir)
    return write_json(out_dir / "BkgOnly.json", bkg_only), write_json(out_dir / "patchset.json", patches)
