"""Execute the project's notebooks: jupytext percent-format sources (``notebooks/*.py``, the source of
truth) run through nbclient, with parameters injected after the cell tagged ``parameters`` (as
papermill does), and written as executed ``.ipynb``. Needs the ``notebooks`` extra
(``pip install -e ".[notebooks]"``: jupytext, nbclient, ipykernel).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .atomic import atomic_path
from .errors import AlpfusionError

__all__ = ["NotebookError", "execute_notebook"]


class NotebookError(AlpfusionError):
    """A notebook that cannot be read, has no parameter cell, or fails in a cell."""


def execute_notebook(
    source: str | os.PathLike,
    *,
    parameters: Mapping[str, Any] | None = None,
    workdir: str | os.PathLike | None = None,
    output: str | os.PathLike | None = None,
    timeout: int = 3600,
):
    """Execute the notebook ``source`` (a jupytext file) in ``workdir`` (default: its folder) with
    ``parameters`` (name: Python literal) set after its ``parameters`` cell; write the executed
    notebook to ``output`` (default: ``source`` with the suffix .ipynb). Returns the notebook; a cell
    that raises gives a :class:`NotebookError` with the cell and the traceback."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    source = Path(source)
    try:
        notebook = jupytext.read(source)
    except (OSError, ValueError) as err:
        raise NotebookError(f"{source}: cannot read the notebook ({err})") from None
    tagged = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise NotebookError(f"{source}: needs exactly one cell tagged 'parameters', found {len(tagged)}")
    if parameters:
        code = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
        cell = nbformat.v4.new_code_cell(code, metadata={"tags": ["injected-parameters"]})
        notebook.cells.insert(tagged[0] + 1, cell)
    folder = Path(workdir) if workdir is not None else source.parent
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    try:
        client.execute()
    except CellExecutionError as err:
        raise NotebookError(f"{source}: {err}") from None
    finally:
        target = Path(output) if output is not None else source.with_suffix(".ipynb")
        with atomic_path(target) as tmp:
            nbformat.write(notebook, os.fspath(tmp))
    return notebook
