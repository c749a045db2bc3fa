"""The compiled kernels of the processor (numba), and the sparse bin sums they produce.

Exact in any order: the yields are rounded to a per-sample power of two
(``alpfusion.processors.processor``), so sums of them do not depend on chunking or merging order.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "BinSums",
    "add_sums",
    "copy_sums",
    "log_position",
    "merge_sorted",
    "position",
    "rounded",
    "rounded_yields",
    "select_kernel",
    "split_squares",
]


FINE = 2.0**-22
"""The y^2 of an event is kept as a coarse part, a multiple of the sample's y^2 quantum q2, and a fine
part, the rest as a multiple of q2 * FINE (:func:`split_squares`): both sums are exact in any order
(the fine parts of fewer than 2^32 events sum to less than 2^53 q2 * FINE), and together they resolve
y^2 down to 2^-74 of the sample's sum of y^2 instead of 2^-52."""


class BinSums:
    """Sums of y and y^2 in the filled bins of a flattened histogram view, kept sparsely.

    The per-chunk form of the analysis plane: as a Weight histogram (30 regions x 354 x 354 bins by
    default) every chunk's result would be 60 MB to create, pickle, send and add, while a chunk fills
    a small part of it (about 190k of the 3.8M bins for 500k signal events). The indices increase;
    ``sums`` holds per bin the sum of y and of the coarse and the fine parts of y^2 (:data:`FINE`).
    BinSums add (coffea's accumulator semantics need only ``+``) by merging their bins in one
    compiled linear pass; the sums are exact (the yields are rounded, see the module docstring), so
    the order of merging does not matter. :meth:`AlpProcessor.postprocess` turns the total into the
    histogram.
    """

    def __init__(self, index: np.ndarray, sums: np.ndarray):
        self.index, self.sums = index, sums

    @classmethod
    def of(cls, flat: np.ndarray, y: np.ndarray, coarse: np.ndarray, fine: np.ndarray, size: int) -> BinSums:
        """The sums of y and of the two parts of y^2 per bin ``flat`` (indices into a view of ``size`` bins)."""
        sums = np.stack([np.bincount(flat, weights=w, minlength=size) for w in (y, coarse, fine)], axis=1)
        index = np.flatnonzero(np.any(sums != 0, axis=1))
        return cls(index, sums[index])

    @property
    def value(self) -> np.ndarray:
        return self.sums[:, 0]

    @property
    def variance(self) -> np.ndarray:
        return self.sums[:, 1] + self.sums[:, 2]

    def __add__(self, other: BinSums) -> BinSums:
        return BinSums(*merge_sorted(self.index, self.sums, other.index, other.sums))

    def add_to(self, view: np.ndarray) -> None:
        """Add the sums to a Weight-storage view (flow included) whose flattening the indices address."""
        where = np.unravel_index(self.index, view.shape)
        view["value"][where] += self.value
        view["variance"][where] += self.variance


@numba.njit(cache=True)
def merge_sorted(index_a, sums_a, index_b, sums_b):  # pragma: no cover - compiled
    """The union of two sparse bin lists with increasing indices, the sums (rows) added where both
    have a bin, in one linear pass (the coordinator of the futures executor adds every chunk's output
    into the growing total while the workers run)."""
    size = index_a.size + index_b.size
    index, sums = np.empty(size, index_a.dtype), np.empty((size, sums_a.shape[1]))
    i = j = k = 0
    while i < index_a.size or j < index_b.size:
        if j == index_b.size or (i < index_a.size and index_a[i] < index_b[j]):
            index[k], sums[k] = index_a[i], sums_a[i]
            i += 1
        elif i == index_a.size or index_b[j] < index_a[i]:
            index[k], sums[k] = index_b[j], sums_b[j]
            j += 1
        else:
            index[k], sums[k] = index_a[i], sums_a[i] + sums_b[j]
            i += 1
            j += 1
        k += 1
    return index[:k], sums[:k]


def position(axis, values: np.ndarray) -> np.ndarray:
    """Position of ``values`` along a flow-included axis: ``axis.index`` (-1 = underflow) shifted."""
    return axis.index(values) + (1 if axis.traits.underflow else 0)


def log_position(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``position`` for a Variable axis with the geometric edges of :func:`mass_edges`, computed from
    the logarithm and then corrected against the edges, so that it equals hist's binary search
    (bin i holds [e_i, e_i+1); NaN and +inf go to the overflow, values below e_0 to the underflow)
    at a third of its cost."""
    n = len(edges) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(np.maximum(values, np.finfo(np.float64).tiny) / edges[0]) / np.log(edges[1] / edges[0])
    position = np.clip(np.nan_to_num(t, nan=n, posinf=n), -1, n).astype(np.intp) + 1
    bounds = np.concatenate([[-np.inf], edges, [np.inf]])
    position -= values < bounds[position]
    position += values >= bounds[position + 1]
    return np.minimum(position, n + 1, out=position)  # +inf: overflow, like hist


def add_sums(view: np.ndarray, flat: np.ndarray, y: np.ndarray, y2: np.ndarray) -> None:
    """Add the sums of y and y^2 per bin to a Weight-storage view (flow included)."""
    view["value"] += np.bincount(flat, weights=y, minlength=view.size).reshape(view.shape)
    view["variance"] += np.bincount(flat, weights=y2, minlength=view.size).reshape(view.shape)


def rounded(values: np.ndarray, quantum: float) -> np.ndarray:
    """Values rounded to the nearest multiple of the power of two ``quantum`` (exact scaling)."""
    return np.rint(values / quantum) * quantum


def rounded_yields(values: np.ndarray, quantum: float) -> np.ndarray:
    """Non-negative yields :func:`rounded`, a positive one to at least ``quantum``: an MC event never
    vanishes from its bin (its square may: the y^2 quantum of a sample with a wide range of weights
    is coarse, docs/processing.md)."""
    return np.maximum(np.rint(values / quantum), values > 0) * quantum


def split_squares(y: np.ndarray, quantum2: float) -> tuple[np.ndarray, np.ndarray]:
    """(coarse, fine): y^2 :func:`rounded` to ``quantum2``, and the rest rounded to quantum2 * FINE."""
    squares = y * y
    coarse = rounded(squares, quantum2)
    return coarse, rounded(squares - coarse, quantum2 * FINE)


def copy_sums(
    parent: np.ndarray, flat: np.ndarray, y: np.ndarray, size: int, quantum2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(bins, sums of y, coarse and fine y^2 terms) of entries that may be copies of one event (several
    smearings): the copies of event ``parent`` in bin ``flat`` (< ``size``) are summed first, and the
    y^2 term is the square of that sum (:func:`split_squares`): the copies are correlated, one MC
    event's contribution to the bin's variance is (sum of its copies' yields)^2."""
    key, inverse = np.unique(parent.astype(np.int64) * size + flat, return_inverse=True)
    summed = np.bincount(inverse, weights=y, minlength=len(key))
    coarse, fine = split_squares(summed, quantum2)
    return key % size, summed, coarse, fine


@numba.njit(cache=True)
def select_kernel(
    m2, e_miss, eta_miss, y, starts, cell, bounds, plane_size, quantum2, sums, flow, raw
):  # pragma: no cover
    """The selection of every hypothesis k (bounds[k] = m2 window, E*_miss window, eta_high, from
    :class:`MassHypothesis`), one pass over the events. The entries starts[g]:starts[g + 1] are the
    copies of one MC event (its smearings; one entry each without copies). For each of the three
    stages, flow[k, stage] += (Y, Y^2) with Y the event's copies passing summed, and raw[k, stage]
    += 1 if any passes; sums[k * plane_size + cell] += (Y_cell, coarse and fine parts of Y_cell^2,
    :func:`split_squares`) per cell its passing copies reach; the cut flow's Y^2 is the coarse part
    alone (a histogram's variance, added by coffea). With rounded yields every sum is exact in any
    order; contiguous outputs with a bin's sums side by side (one cache line per bin).

    Returns the rows of ``sums`` reached, unordered, each at least once (a row is listed when it is
    all zero before the event adds to it): the caller reads those rows only, so that a large
    zero-initialised ``sums`` is touched only where it is filled."""
    fine2 = quantum2 * FINE
    touched = np.empty(max(1024, starts.shape[0]), dtype=np.int64)
    n_touched = 0
    longest = 1
    for g in range(starts.shape[0] - 1):
        longest = max(longest, starts[g + 1] - starts[g])
    cells, cell_sums = np.empty(longest, dtype=np.int64), np.empty(longest)
    stage_sums, stage_raw = np.empty(3), np.empty(3, dtype=np.int64)
    for g in range(starts.shape[0] - 1):
        for k in range(bounds.shape[0]):
            stage_sums[:] = 0.0
            stage_raw[:] = 0
            n_cells = 0
            for n in range(starts[g], starts[g + 1]):
                if not bounds[k, 0] <= m2[n] <= bounds[k, 1]:  # written so that NaN fails, as in passes()
                    continue
                stage_sums[0] += y[n]
                stage_raw[0] += 1
                if not bounds[k, 2] <= e_miss[n] <= bounds[k, 3]:
                    continue
                stage_sums[1] += y[n]
                stage_raw[1] += 1
                if not abs(eta_miss[n]) <= bounds[k, 4]:
                    continue
                stage_sums[2] += y[n]
                stage_raw[2] += 1
                j = 0
                while j < n_cells and cells[j] != cell[n]:
                    j += 1
                if j == n_cells:
                    cells[j], cell_sums[j] = cell[n], 0.0
                    n_cells += 1
                cell_sums[j] += y[n]
            for stage in range(3):
                if stage_raw[stage] > 0:
                    w = stage_sums[stage]
                    flow[k, stage, 0] += w
                    flow[k, stage, 1] += np.rint(w * w / quantum2) * quantum2
                    raw[k, stage] += 1
            for j in range(n_cells):
                w = cell_sums[j]
                coarse = np.rint(w * w / quantum2) * quantum2
                row = k * plane_size + cells[j]
                if sums[row, 0] == 0.0 and sums[row, 1] == 0.0 and sums[row, 2] == 0.0:
                    if n_touched == touched.shape[0]:
                        grown = np.empty(2 * n_touched, dtype=np.int64)
                        grown[:n_touched] = touched
                        touched = grown
                    touched[n_touched] = row
                    n_touched += 1
                sums[row, 0] += w
                sums[row, 1] += coarse
                sums[row, 2] += np.rint((w * w - coarse) / fine2) * fine2
    return touched[:n_touched]
