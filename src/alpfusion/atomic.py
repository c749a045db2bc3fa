"""Writing outputs so that nothing is lost: every file (and output folder) the package writes goes
through this module.

* :func:`atomic_path` gives a temporary path next to the target, moved onto it with ``os.replace``
  only when the block succeeds; on any failure (or a kill) the target is untouched, and the temporary
  is removed, or, after a kill, recognised (by its name and its dead process) and removed by the next
  write of the same target or the next :func:`remove_stale` of its folder.
* :func:`atomic_folder` does the same for a whole folder (a stage's output: the limits with their
  workspaces and configurations), so that a folder is either the old one or the complete new one,
  never a mix; an old folder is replaced as a whole, leaving nothing stale in it.
* Temporaries are created with ``O_EXCL`` / ``mkdir``, so they get the permissions of the user's umask
  (``tempfile.mkstemp`` would give 0600), and are named ``.{name}.tmp-{pid}-{token}``.
* :class:`OutputLock` makes a folder the output of one run at a time (an advisory ``flock`` on
  ``{folder}/.alpfusion.lock``); two runs into one folder would mix their files.

Problems (a path under a file, an unwritable folder, a full disk) raise :class:`OutputError` naming
the path.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .errors import AlpfusionError

__all__ = [
    "OutputError",
    "OutputLock",
    "atomic_folder",
    "atomic_path",
    "ensure_folder",
    "remove_stale",
    "write_json",
    "write_text",
    "write_yaml",
]

_TMP = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)-[0-9a-f]{8}$")
LOCK_NAME = ".alpfusion.lock"


class OutputError(AlpfusionError):
    """An output cannot be written: the message names the path and the reason."""


def _describe(err: OSError) -> str:
    if err.errno in (errno.EEXIST, errno.ENOTDIR):
        return "a file stands where a folder is needed"
    return err.strerror or type(err).__name__


def ensure_folder(path: str | os.PathLike, *, target: str | os.PathLike | None = None) -> Path:
    """Create the folder ``path`` and its parents (umask permissions); OutputError naming ``target``
    (the file to be written there, default the folder itself) if that fails or it is not writable."""
    path = Path(path)
    who = f"{target}: the output folder {path}" if target is not None else f"{path}: the output folder"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{who} cannot be created ({_describe(err)})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{who} is not writable")
    return path


def _temporary_name(path: Path, kind: str = "tmp") -> Path:
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A path to write ``path``'s new content to: ``path``'s own name inside a new temporary folder
    next to it (tools that store the file name, as ROOT does, store the final one). The file is moved
    onto ``path`` when the block succeeds; the temporary folder is removed in any case. The caller
    creates the file (its mode follows the umask)."""
    path = Path(path)
    with _temporary_folder(path) as tmp:
        yield tmp / path.name
        try:
            os.replace(tmp / path.name, path)
        except OSError as err:
            raise OutputError(f"{path}: cannot write ({_describe(err)})") from err


@contextlib.contextmanager
def _temporary_folder(path: Path) -> Iterator[Path]:
    """A new empty folder ``.{name}.tmp-{pid}-{token}`` next to ``path``, removed at the end; the
    temporaries of ``path`` that killed processes left are removed first."""
    ensure_folder(path.parent, target=path)
    remove_stale(path.parent, name=path.name, own=False)
    tmp = _temporary_name(path)
    try:
        tmp.mkdir()
    except OSError as err:
        raise OutputError(f"{path}: cannot create a temporary folder next to it ({_describe(err)})") from None
    try:
        yield tmp
    finally:
        _remove(tmp)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file (UTF-8) atomically."""
    with atomic_path(path) as tmp, open(tmp, "x", encoding="utf-8", newline="") as stream:
        stream.write(text)
    return Path(path)


def write_json(path: str | os.PathLike, content: Any, *, indent: int | None = 1, sort_keys: bool = False) -> Path:
    """Write JSON atomically (NaN refused: the files are read by other tools)."""
    return write_text(path, json.dumps(content, indent=indent, sort_keys=sort_keys, allow_nan=False) + "\n")


def write_yaml(path: str | os.PathLike, content: Any) -> Path:
    """Write YAML atomically, keys in the given order."""
    return write_text(path, yaml.safe_dump(content, sort_keys=False))


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """A new empty folder next to ``path`` to fill; it replaces ``path`` as a whole when the block
    succeeds (an older ``path`` is moved aside, then removed), and is removed when the block fails."""
    path = Path(path)
    with _temporary_folder(path) as tmp:
        yield tmp
        old = _temporary_name(path, "old")
        try:
            if path.exists():
                os.replace(path, old)
            os.replace(tmp, path)
        except OSError as err:
            raise OutputError(f"{path}: cannot replace the folder ({_describe(err)})") from err
        finally:
            _remove(old)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: str | os.PathLike, *, name: str | None = None, own: bool = True) -> list[Path]:
    """Remove the temporaries of this module left in ``folder`` (not recursive) by processes that no
    longer run (killed runs), only those of target ``name`` if given, and with ``own`` those of this
    process too (a caller that holds the folder's lock has none in flight); returns what was removed."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TMP.match(entry.name)
        if not match or (name is not None and match["name"] != name):
            continue
        pid = int(match["pid"])
        if (own and pid == os.getpid()) or (pid != os.getpid() and not _alive(pid)):
            _remove(entry)
            removed.append(entry)
    return removed


class OutputLock:
    """The exclusive right to write into a folder (``with OutputLock(folder): ...``).

    A second run into the same folder, in this or another process, raises OutputError naming the
    folder instead of mixing its files with the first run's. The lock is released when the block
    ends or the process dies. Entering it also removes the temporaries of killed earlier runs.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        ensure_folder(self.folder)
        lock = self.folder / LOCK_NAME
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise OutputError(f"{lock}: cannot create the lock file ({_describe(err)})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputError(
                    f"{self.folder}: another alpfusion run is writing into this folder; "
                    "wait for it or choose another output folder"
                ) from None
            raise OutputError(f"{lock}: cannot lock ({_describe(err)})") from None
        self._fd = fd
        remove_stale(self.folder)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
