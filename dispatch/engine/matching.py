"""Courier × bundle matching: minimum total cost over given pairs, anyone may be left out."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_array
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

# Below this many cells a dense solver is quicker than building a sparse graph.
_DENSE_CELLS = 20_000


def match(
    couriers: np.ndarray, bundles: np.ndarray, cost: np.ndarray, *, n_couriers: int, n_bundles: int
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost matching of couriers to bundles over the given pairs, leaving any out.

    Every courier also has its own "nothing this wave" option at cost 0 (a pair's cost is
    already relative to serving the bundle later), so the matching is never forced to cover
    a courier or a bundle: a pair that is not given is never taken, and a pair that costs
    more than leaving both out is not taken just to match more of them. (A forced full
    matching once gave a store's idle courier a bundle ready decades later, so that an
    at-risk order there went to a busy courier, round after round.)

    Parameters
    ----------
    couriers, bundles, cost
        The allowed pairs (distinct) and their finite costs, each of shape (P,).
    n_couriers, n_bundles
        Sizes of the two sides.

    Returns
    -------
    (couriers, bundles)
        Matched pairs, sorted by courier.
    """
    if cost.size == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    # Only couriers offered some pair take part (the others take nothing anyway).
    used, couriers = np.unique(couriers, return_inverse=True)
    rows, cols = _match_rows(couriers, bundles, cost, n_couriers=used.size, n_bundles=n_bundles)
    return used[rows], cols


def _match_rows(
    couriers: np.ndarray, bundles: np.ndarray, cost: np.ndarray, *, n_couriers: int, n_bundles: int
) -> tuple[np.ndarray, np.ndarray]:
    if n_couriers * (n_bundles + n_couriers) <= _DENSE_CELLS:
        dense = np.full((n_couriers, n_bundles + n_couriers), np.inf)
        dense[couriers, bundles] = cost
        dense[np.arange(n_couriers), n_bundles + np.arange(n_couriers)] = 0.0
        rows, cols = linear_sum_assignment(dense)
        keep = cols < n_bundles
        return rows[keep], cols[keep]
    # Every courier is matched exactly once (to a bundle or to its own "nothing"), so a
    # constant added to every weight changes nothing; it keeps weights positive (a sparse
    # matrix drops zeros).
    shift = 1.0 - min(0.0, float(cost.min()))
    skip = np.arange(n_couriers)
    graph = csr_array(
        (
            np.concatenate([cost + shift, np.full(n_couriers, shift)]),
            (np.concatenate([couriers, skip]), np.concatenate([bundles, n_bundles + skip])),
        ),
        shape=(n_couriers, n_bundles + n_couriers),
    )
    rows, cols = min_weight_full_bipartite_matching(graph)
    keep = cols < n_bundles
    return rows[keep], cols[keep]
