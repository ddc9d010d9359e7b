"""Travel-time tables: store → every node and every node → store, built once per store set.

Both directions are computed by ``scipy.sparse.csgraph.dijkstra`` from all stores at once (the
node → store direction on the reversed graph), with a cutoff. Only reachable pairs are kept, as
node-major CSR arrays: a node's row is one contiguous slice, so store choice reads it without
searching. A ``TravelTimeTables`` value never changes; to rebuild, build a new one off the event
loop and swap the reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from geo.network import RoadNetwork

#: Rough ceiling for the dense distance block dijkstra returns per batch of stores.
_BATCH_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class TravelTimeTables:
    """Travel seconds between a fixed set of store nodes and every node, within a cutoff.

    ``from_*`` arrays hold store → node times, each node's row sorted by time (nearest first).
    ``to_*`` arrays hold node → store times, each node's row sorted by store index.
    Store indices are positions in ``store_nodes``. Times are float32 seconds.
    """

    store_nodes: np.ndarray
    cutoff_s: float
    node_count: int
    from_indptr: np.ndarray
    from_store: np.ndarray
    from_time: np.ndarray
    to_indptr: np.ndarray
    to_store: np.ndarray
    to_time: np.ndarray

    @property
    def store_count(self) -> int:
        """How many stores the tables were built for."""
        return int(self.store_nodes.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory held by the tables' arrays, in bytes."""
        return int(
            sum(
                a.nbytes
                for a in (
                    self.store_nodes, self.from_indptr, self.from_store, self.from_time,
                    self.to_indptr, self.to_store, self.to_time,
                )
            )
        )

    @property
    def pair_count(self) -> int:
        """Reachable (store, node) pairs kept in the store → node direction."""
        return int(self.from_store.shape[0])

    def stores_in_reach(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Stores that reach ``node`` within the cutoff, nearest first.

        Parameters
        ----------
        node
            A node index.

        Returns
        -------
        tuple of ndarray
            ``(store_indices int32, travel_s float32)``, read-only views sorted by travel time.
        """
        start, end = self.from_indptr[node], self.from_indptr[node + 1]
        return self.from_store[start:end], self.from_time[start:end]

    def from_store_s(self, store_idx: int, node: int) -> float:
        """Seconds from a store to a node (``math.inf`` beyond the cutoff)."""
        stores, times = self.stores_in_reach(node)
        hit = np.flatnonzero(stores == store_idx)
        return float(times[hit[0]]) if hit.size else math.inf

    def to_store_s(self, node: int, store_idx: int) -> float:
        """Seconds from a node to a store (``math.inf`` beyond the cutoff)."""
        start, end = self.to_indptr[node], self.to_indptr[node + 1]
        row = self.to_store[start:end]
        i = int(np.searchsorted(row, store_idx))
        if i < row.shape[0] and row[i] == store_idx:
            return float(self.to_time[start + i])
        return math.inf

    def eta_matrix(self, courier_nodes: np.ndarray) -> np.ndarray:
        """Seconds from each courier's node to each store.

        Parameters
        ----------
        courier_nodes
            Node indices, shape (M,).

        Returns
        -------
        ndarray
            float32, shape (M, store_count); ``inf`` where the store is beyond the cutoff.
        """
        nodes = np.asarray(courier_nodes, dtype=np.int64)
        m, n_stores = nodes.shape[0], self.store_count
        out = np.full((m, n_stores), np.inf, dtype=np.float32)
        starts = self.to_indptr[nodes]
        counts = self.to_indptr[nodes + 1] - starts
        total = int(counts.sum())
        if total:
            offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
            flat = np.repeat(np.arange(m, dtype=np.int64) * n_stores, counts)
            flat += self.to_store[offsets]
            out.ravel()[flat] = self.to_time[offsets]
        return out


def build_tables(
    network: RoadNetwork,
    store_nodes: Sequence[int] | np.ndarray,
    *,
    cutoff_s: float,
    progress: Callable[[str], None] | None = None,
) -> TravelTimeTables:
    """Build store → node and node → store travel-time tables.

    Parameters
    ----------
    network
        The road network.
    store_nodes
        Each store's node index (store index = position in this sequence).
    cutoff_s
        Pairs farther apart than this many seconds are not kept (they read as ``inf``).
    progress
        Called with a short message per direction.

    Returns
    -------
    TravelTimeTables
        An immutable value.

    Raises
    ------
    ValueError
        If a store node is not a node of the network or the cutoff is not positive.
    """
    nodes = np.asarray(store_nodes, dtype=np.int64).reshape(-1)
    n = network.node_count
    if nodes.size and (nodes.min() < 0 or nodes.max() >= n):
        raise ValueError("store node outside the road network")
    if not (cutoff_s > 0):
        raise ValueError("cutoff_s must be positive")
    say = progress or (lambda _m: None)
    say(f"tables: store → node for {nodes.size} stores")
    f_store, f_node, f_time = _reachable_pairs(network.csr, nodes, n, cutoff_s)
    say(f"tables: node → store for {nodes.size} stores")
    t_store, t_node, t_time = _reachable_pairs(network.csr_reversed, nodes, n, cutoff_s)
    f_order = np.lexsort((f_time, f_node))
    t_order = np.lexsort((t_store, t_node))
    return TravelTimeTables(
        store_nodes=_ro(nodes.astype(np.int64)),
        cutoff_s=float(cutoff_s),
        node_count=n,
        from_indptr=_ro(_indptr(f_node, n)),
        from_store=_ro(f_store[f_order]),
        from_time=_ro(f_time[f_order]),
        to_indptr=_ro(_indptr(t_node, n)),
        to_store=_ro(t_store[t_order]),
        to_time=_ro(t_time[t_order]),
    )


def _reachable_pairs(
    csr: sparse.csr_matrix, nodes: np.ndarray, n: int, cutoff_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(store index, node, seconds) for every pair within the cutoff, from batched dijkstra."""
    stores_out, nodes_out, times_out = [], [], []
    batch = max(1, _BATCH_BYTES // max(1, n * 8))
    for start in range(0, nodes.size, batch):
        chunk = nodes[start : start + batch]
        dist = dijkstra(csr, directed=True, indices=chunk, limit=cutoff_s)
        rows, cols = np.nonzero(np.isfinite(dist))
        stores_out.append((rows + start).astype(np.int32))
        nodes_out.append(cols.astype(np.int32))
        times_out.append(dist[rows, cols].astype(np.float32))
    if not stores_out:
        empty_i = np.empty(0, dtype=np.int32)
        return empty_i, empty_i.copy(), np.empty(0, dtype=np.float32)
    return np.concatenate(stores_out), np.concatenate(nodes_out), np.concatenate(times_out)


def _indptr(node_of_pair: np.ndarray, n: int) -> np.ndarray:
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(node_of_pair, minlength=n), out=indptr[1:])
    return indptr


def _ro(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
