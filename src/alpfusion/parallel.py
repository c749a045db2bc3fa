"""Where independent tasks run: a local process pool, or a dask.distributed cluster.

The workflow hands every stage one :class:`TaskPool`: sample production (one task per sample), the
processing (coffea's dask executor on the same client) and the limits (one task per mass point).
Tasks are pure functions of their arguments that write their own files, so the results do not
depend on where they ran. :func:`task_pool` gives the pool a configuration asks for: a dask client
of ``processing.scheduler`` when it is set (or the client a caller passes), else a local pool of
``processing.workers`` processes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from .heap import retain_freed_memory

__all__ = ["DaskPool", "LocalPool", "TaskPool", "task_pool"]

T = TypeVar("T")
R = TypeVar("R")


class TaskPool:
    """Runs a function over items: :meth:`as_completed` yields (index, result) as they finish,
    :meth:`map` the results in the items' order."""

    client: Any = None  # the dask client, if the pool is a cluster's

    def as_completed(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        raise NotImplementedError

    def map(self, fn: Callable[[T], R], items: Sequence[T], on_done: Callable[[], object] | None = None) -> list[R]:
        """The results in the items' order; ``on_done`` is called as each task finishes."""
        done: dict[int, R] = {}
        for index, result in self.as_completed(fn, items):
            done[index] = result
            if on_done is not None:
                on_done()
        return [done[i] for i in range(len(items))]


class LocalPool(TaskPool):
    """``workers`` worker processes (their heap tuned, ``alpfusion.heap``); with one worker, or one
    task, the tasks run in this process, one after the other."""

    def __init__(self, workers: int):
        self.workers = workers

    def as_completed(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        if self.workers <= 1 or len(items) <= 1:
            for index, item in enumerate(items):
                yield index, fn(item)
            return
        with concurrent.futures.ProcessPoolExecutor(
            min(self.workers, len(items)), initializer=retain_freed_memory
        ) as pool:
            futures = {pool.submit(fn, item): index for index, item in enumerate(items)}
            try:
                for future in concurrent.futures.as_completed(futures):
                    yield futures[future], future.result()
            finally:
                for future in futures:
                    future.cancel()


class DaskPool(TaskPool):
    """The tasks as dask.distributed futures on ``client``'s cluster."""

    def __init__(self, client: Any):
        self.client = client

    def as_completed(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        from distributed import as_completed

        futures = {self.client.submit(fn, item, pure=False): index for index, item in enumerate(items)}
        try:
            for future in as_completed(list(futures)):
                yield futures[future], future.result()
        finally:
            self.client.cancel(list(futures))


@contextlib.contextmanager
def task_pool(workers: int, scheduler: str | None = None, client: Any = None) -> Iterator[TaskPool]:
    """The pool for a run: ``client``'s cluster, else a new client of ``scheduler``, else local."""
    if client is not None:
        yield DaskPool(client)
    elif scheduler is not None:
        from distributed import Client

        with Client(scheduler) as own:
            yield DaskPool(own)
    else:
        yield LocalPool(workers)
