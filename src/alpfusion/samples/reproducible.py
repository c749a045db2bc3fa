"""Byte-reproducible ROOT files from uproot: a frozen clock and content-derived UUIDs.

uproot stamps files, directories, keys and baskets with ``datetime.datetime.now()`` and gives files
random UUIDs (``uuid1``), so two writes of the same events differ. This module is the only place
that works around it:

* :func:`uuid_function`, passed to ``uproot.recreate(uuid_function=...)`` (public API);
* :func:`deterministic_writing`, a context manager that, while a file is written, replaces the
  ``datetime`` module seen by uproot's writing modules with one whose ``datetime.now()`` is a
  fixed timestamp. This reaches into uproot's internals, so it is guarded by the uproot version it
  was written and tested for (:data:`UPROOT_VERSIONS`): with another version it patches nothing,
  logs a warning once, and the files are valid but carry the real time (not byte-reproducible).
  The patch is reference-counted, thread-safe, limited to ``uproot.writing`` modules, and undone
  when the last writer leaves.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import itertools
import json
import logging
import os
import sys
import threading
import types
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import uproot

__all__ = ["UPROOT_VERSIONS", "deterministic_writing", "recreate", "uuid_function"]

log = logging.getLogger(__name__)

UPROOT_VERSIONS = ("5.7.",)
"""uproot release series whose writing modules the clock patch was checked against."""

_FIXED_EPOCH = datetime.datetime(2000, 1, 1)
"""Timestamp written into files when ``SOURCE_DATE_EPOCH`` is not set."""

_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://alpfusion/samples/rootio")
"""Namespace of the deterministic file and directory UUIDs."""


def _fixed_timestamp() -> datetime.datetime:
    """The timestamp written into sample files (naive, UTC).

    ``SOURCE_DATE_EPOCH`` (seconds since 1970-01-01 UTC, the reproducible-builds
    convention) if set, else 2000-01-01 00:00:00.  ROOT's ``TDatime`` stores the
    year as ``year - 1995`` in 6 bits, so only 1995-2058 can be represented.
    """
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value is None:
        return _FIXED_EPOCH
    try:
        stamp = datetime.datetime.fromtimestamp(int(value), tz=datetime.UTC)
    except (ValueError, OverflowError, OSError) as err:
        raise ValueError(f"SOURCE_DATE_EPOCH={value!r} is not a valid Unix time") from err
    if not 1995 <= stamp.year <= 2058:
        raise ValueError(
            f"SOURCE_DATE_EPOCH={value!r} ({stamp:%Y-%m-%d}) is outside the range "
            "1995-2058 that a ROOT TDatime can hold"
        )
    return stamp.replace(tzinfo=None)


class _FrozenClock:
    """Makes ``datetime.datetime.now()`` in uproot's writing modules constant.

    uproot stamps the creation/modification time of the file, its directories,
    keys and TTree baskets with ``datetime.datetime.now()`` (in
    ``uproot.writing._cascade``, ``_cascadetree``, ``_cascadentuple`` and
    ``writable``; each does ``import datetime``).  While the clock is frozen the
    module-level name ``datetime`` of every loaded ``uproot.writing`` module
    that refers to the standard ``datetime`` module is replaced by a shim
    module identical to ``datetime`` except that ``datetime.now()`` returns the
    fixed timestamp.  Nested and concurrent (threaded) use is reference-counted;
    the original references are restored when the last user leaves.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._patched: list[types.ModuleType] = []

    @staticmethod
    def _shim(stamp: datetime.datetime) -> types.ModuleType:
        """A copy of the ``datetime`` module whose ``datetime.now()`` returns ``stamp``."""

        class FrozenDatetime(datetime.datetime):
            @classmethod
            def now(cls, tz=None):
                return stamp if tz is None else stamp.replace(tzinfo=datetime.UTC).astimezone(tz)

        shim = types.ModuleType("datetime")
        shim.__dict__.update(datetime.__dict__)
        shim.datetime = FrozenDatetime  # type: ignore[attr-defined]
        return shim

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Context manager freezing uproot's writing clock (see the class doc)."""
        with self._lock:
            if self._users == 0:
                shim = self._shim(_fixed_timestamp())
                self._patched = [
                    module
                    for name, module in list(sys.modules.items())
                    if name.startswith("uproot.writing") and getattr(module, "datetime", None) is datetime
                ]
                for module in self._patched:
                    module.datetime = shim  # type: ignore[attr-defined]
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    for module in self._patched:
                        module.datetime = datetime  # type: ignore[attr-defined]
                    self._patched = []


_CLOCK = _FrozenClock()


@functools.cache
def _supported(version: str) -> bool:
    if version.startswith(UPROOT_VERSIONS):
        return True
    log.warning(
        "uproot %s is not one of the versions %s the frozen clock was written for: sample files are "
        "written with the real time and are not byte-reproducible",
        version,
        ", ".join(UPROOT_VERSIONS),
    )
    return False


@contextlib.contextmanager
def deterministic_writing() -> Iterator[None]:
    """While the block runs, uproot writes the fixed timestamp (see the module docstring)."""
    if not _supported(uproot.__version__):
        yield
        return
    with _CLOCK.frozen():
        yield


def uuid_function(particles: Sequence[str], first_chunk: Mapping[str, np.ndarray] | None) -> Callable[[], uuid.UUID]:
    """Deterministic replacement for uproot's ``uuid_function`` (default ``uuid1``).

    uproot needs the UUIDs when the file is created, before the stream's
    metadata is available, so they are derived from the sample content known at
    that time: ``uuid5(namespace, "<sha256>/<k>")`` for the k-th call, where the
    SHA-256 covers the particle names and the names and bytes of all arrays of
    the first chunk (sorted by name; the chunk is validated later).  Different
    samples (other seed, mass, coupling, cuts) therefore get different UUIDs;
    the same stream always the same ones.
    """
    digest = hashlib.sha256(json.dumps(list(particles)).encode())
    chunk = first_chunk or {}
    for name in sorted(chunk):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(chunk[name]).tobytes())
    key = digest.hexdigest()
    counter = itertools.count()
    return lambda: uuid.uuid5(_UUID_NAMESPACE, f"{key}/{next(counter)}")


@contextlib.contextmanager
def recreate(path: str | os.PathLike, key: str, **options) -> Iterator[uproot.WritableDirectory]:
    """``uproot.recreate(path, **options)`` written reproducibly: the fixed timestamp, and UUIDs derived
    from ``key`` (what the content is made from), so that the same content gives the same bytes."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    counter = itertools.count()
    with (
        deterministic_writing(),
        uproot.recreate(
            path, uuid_function=lambda: uuid.uuid5(_UUID_NAMESPACE, f"{digest}/{next(counter)}"), **options
        ) as f,
    ):
        yield f
