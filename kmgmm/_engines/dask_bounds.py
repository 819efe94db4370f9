"""Hamerly's per-row state on a Dask cluster, beside its blocks.

Hamerly's labels, bounds and squared row norms, and each block's running
statistics, stay in the process of the worker that holds the block (its
*home*), keyed by (fit, block): no per-row state crosses the network.
Every task that uses a block's state is pinned to that block's home
(``ClusterRunner.run_beside``: one task per worker and round, over all of
that worker's blocks; the scheduler neither places nor steals it anywhere
else).

A block's state can still be lost: its worker dies, or is replaced by
another at the same address.  Then the runner runs the block's task
anywhere, and the task rebuilds the state: a Hamerly pass starts the block
over as a first pass (every row fails its bounds); any other task first
runs that first pass under the centres of the client's last pass and
replays the rows relocated since.  This costs time, never a different
result: the labels of an exact pass are the nearest centres either way.  A
restarted pass still reports whether the block's labels changed, by
comparing a digest of its labels with the digests the client kept (see
``_changed_since``), so the stopping rule sees what it would have seen.
"""
import hashlib
import threading
import uuid

import numpy as np

from .. import _kernels
from .._threads import single_threaded_blas
from .dask_runner import add_in_tree, here, task_threads, weights_of

# (fit token, block) -> the block's state, in this process.
_BLOCK_STATES: dict = {}
_STATES_LOCK = threading.Lock()
_REBUILT = [0]      # blocks whose state this process had to rebuild


def rebuilt_blocks():
    """How many times this process started a block's state over mid-fit
    (its state was elsewhere or lost)."""
    return _REBUILT[0]


def _digest(labels):
    return hashlib.sha256(memoryview(labels)).digest()


def _new_state(n, k, d):
    return {"labels": np.full(n, -1, dtype=np.int32), "upper": np.empty(n),
            "lower": np.zeros(n), "x_sqnorm": np.empty(n),
            "moved_rows": np.empty(n, dtype=np.intc),
            "moved_from": np.empty(n, dtype=np.intc),
            "sums": np.empty((k, d)), "weights": np.empty(k),
            "counts": np.empty(k, dtype=np.int64), "pass": 0}


def _stored(key):
    with _STATES_LOCK:
        return _BLOCK_STATES.get(key)


def _store(key, state):
    with _STATES_LOCK:
        _BLOCK_STATES[key] = state


def _run_pass(state, x, w, params, first, exact, tighten, n_threads):
    centers, half_sep, move, lower_drop = params
    with single_threaded_blas():
        return _kernels.hamerly.hamerly_pass(
            x, weights_of(x, w), centers, half_sep=half_sep, move=move,
            lower_drop=lower_drop, labels=state["labels"], upper=state["upper"],
            lower=state["lower"], sums=state["sums"], weights=state["weights"],
            counts=state["counts"], moved_rows=state["moved_rows"],
            moved_from=state["moved_from"], first=first, exact=exact,
            n_threads=task_threads(n_threads), x_sqnorm=state["x_sqnorm"],
            tighten=tighten)


def _changed_since(digest, known, n_rows):
    """Rows a restarted block reports as changed.  ``known``: the digests of
    the block's labels after the client's last pass and after the rows
    relocated since, and how many rows were relocated.  Labels equal to
    those after the relocation: none changed; equal to the pass's: the
    relocated rows; else all (an upper bound: only whether any changed
    decides anything)."""
    after_pass, after_moves, n_moved = known
    if digest == after_moves:
        return 0
    if digest == after_pass:
        return n_moved
    return n_rows


def _pass_block(x, w, key, known, params, n_pass, exact, tighten, n_threads):
    """Pass ``n_pass`` of Hamerly over a block: the block's statistics
    (sums, weights, counts of rows of positive weight), the pass's counts,
    where the state now is, and a digest of the labels (None when no label
    changed)."""
    k, d = params[0].shape
    state = _stored(key)
    restart = n_pass == 1 or state is None or state["pass"] != n_pass - 1
    if restart:
        state = _new_state(x.shape[0], k, d)
        if n_pass > 1:
            with _STATES_LOCK:
                _REBUILT[0] += 1
    inertia, evals, changed, n_failed, n_clear = _run_pass(
        state, x, w, params, restart, exact, tighten, n_threads)
    digest = _digest(state["labels"]) if changed or restart else None
    if restart and n_pass > 1:
        changed = _changed_since(digest, known, x.shape[0])
    state["pass"] = n_pass
    _store(key, state)
    return (state["sums"].copy(), state["weights"].copy(), state["counts"].copy(),
            inertia, evals, changed, n_failed, n_clear, (here(),), (digest,))


def _pass_blocks(items, *args):
    """``_pass_block`` over a worker's blocks; ``items``: (x, w, key, known)."""
    return [_pass_block(*item, *args) for item in items]


def _move(state, rows, clusters):
    state["labels"][rows] = clusters
    state["upper"][rows] = np.inf
    state["lower"][rows] = 0.0


def _state(x, w, key, replay, last, n_threads):
    """The block's state as the client left it: found here, or rebuilt from a
    first pass under the last pass's parameters and the relocations since."""
    params, n_pass = last
    state = _stored(key)
    if state is None or state["pass"] != n_pass:
        with _STATES_LOCK:
            _REBUILT[0] += 1
        k, d = params[0].shape
        state = _new_state(x.shape[0], k, d)
        _run_pass(state, x, w, params, True, False, False, n_threads)
        for rows, clusters in replay:
            _move(state, rows, clusters)
        state["pass"] = n_pass
        _store(key, state)
    return state


def _state_blocks(items, op, last, n_threads, *args):
    """``op(state, x, w, *item_args, *args)`` on each of a worker's blocks,
    with where its state is; ``items``: (x, w, key, replay, *item_args)."""
    out = []
    for x, w, key, replay, *item_args in items:
        state = _state(x, w, key, replay, last, n_threads)
        out.append((here(), op(state, x, w, *item_args, *args, n_threads)))
    return out


def _labels_op(state, x, w, rows, n_threads):
    return state["labels"][rows].copy()


def _move_op(state, x, w, rows, clusters, n_threads):
    _move(state, rows, clusters)
    return _digest(state["labels"])


def _statistics_op(state, x, w, n_threads):
    """The block's statistics from its labels (kept as its running ones)."""
    with single_threaded_blas():
        _kernels.common.cluster_statistics(
            x, weights_of(x, w), state["labels"], sums=state["sums"],
            weights=state["weights"], counts=state["counts"],
            n_threads=task_threads(n_threads))
    return state["sums"].copy(), state["weights"].copy(), state["counts"].copy()


def _inertia_op(state, x, w, centers, n_threads):
    out = np.empty(x.shape[0], dtype=x.dtype)
    with single_threaded_blas():
        _kernels.common.label_sqdist(x, centers, state["labels"], out=out,
                                     n_threads=task_threads(n_threads))
    return (float(weights_of(x, w).astype(np.float64) @ out.astype(np.float64)),)


def _release_blocks(keys):
    with _STATES_LOCK:
        for key in keys:
            _BLOCK_STATES.pop(key, None)
    return [0] * len(keys)


class BoundsBesideBlocks:
    """The Hamerly passes of ``DaskEngine``: its per-row state on the workers."""

    def _forget_bounds(self):
        self._token = None
        self._n_pass = 0
        self._homes = [None] * len(self.xs)
        self._known = [(None, None, 0)] * len(self.xs)
        self._last = None
        self._replay = [[] for _ in self.xs]

    def hamerly_pass(self, centers, half_sep, move, lower_drop, sums, weights, counts, *,
                     first, exact, tighten):
        """One Hamerly pass, its per-row state beside each block (see the
        module); the statistics are overwritten with the blocks' total."""
        if first or self._token is None:
            self.release()
            self._token = uuid.uuid4().hex
        self._n_pass += 1
        params = self.runner.put((np.ascontiguousarray(centers, dtype=self.dtype),
                                  half_sep, move, lower_drop))
        items = [(self.xs[b], self.ws[b], (self._token, b), self._known[b])
                 for b in range(len(self.xs))]
        parts = self.runner.run_beside(self._homes, _pass_blocks, items, params,
                                       self._n_pass, exact, tighten, self.n_threads,
                                       places=self.places())
        (sums[...], weights[...], counts[...], inertia, evals, changed, n_failed,
         n_clear, homes, digests) = add_in_tree(parts)
        self._homes = list(homes)
        self._known = [(d, d, 0) if d is not None else (known[1], known[1], 0)
                       for d, known in zip(digests, self._known)]
        self._last = (params, self._n_pass)
        self._replay = [[] for _ in self.xs]
        if not exact:
            inertia = np.nan
        return inertia, int(evals), int(changed), int(n_failed), int(n_clear)

    def _on_state(self, blocks, op, per_block, *args):
        """``op`` on the given blocks' states (see ``_state_blocks``), beside
        them; the results in the order of ``blocks``."""
        items = [(self.xs[b], self.ws[b], (self._token, b), self._replay[b], *extra)
                 for b, extra in zip(blocks, per_block)]
        parts = self.runner.run_beside([self._homes[b] for b in blocks], _state_blocks,
                                       items, op, self._last, self.n_threads, *args)
        for b, (home, _) in zip(blocks, parts):
            self._homes[b] = home
        return [value for _, value in parts]

    def _by_block(self, rows):
        """Blocks holding ``rows``, and for each the rows' local indices and
        their positions in ``rows``."""
        rows = np.asarray(rows, dtype=np.intp)
        block = np.searchsorted(self.offsets, rows, side="right") - 1
        blocks = [int(b) for b in np.unique(block)]
        where = [np.flatnonzero(block == b) for b in blocks]
        return blocks, [rows[i] - self.offsets[b] for b, i in zip(blocks, where)], where

    def labels_at(self, rows):
        blocks, local, where = self._by_block(rows)
        out = np.empty(len(rows), dtype=np.int32)
        for i, part in zip(where, self._on_state(blocks, _labels_op,
                                                 [(r,) for r in local])):
            out[i] = part
        return out

    def move_rows(self, moves):
        blocks, local, where = self._by_block([row for _, row in moves])
        clusters = np.array([cluster for cluster, _ in moves], dtype=np.int32)
        batches = [(r, clusters[i]) for r, i in zip(local, where)]
        digests = self._on_state(blocks, _move_op, batches)
        for b, (r, c), digest in zip(blocks, batches, digests):
            after_pass, _, n_moved = self._known[b]
            self._known[b] = (after_pass, digest, n_moved + len(r))
            self._replay[b].append((r, c))

    def cluster_statistics(self, n_clusters):
        blocks = range(len(self.xs))
        return add_in_tree(self._on_state(blocks, _statistics_op, [()] * len(blocks)))

    def inertia_of_labels(self, centers):
        blocks = range(len(self.xs))
        (inertia,) = add_in_tree(self._on_state(
            blocks, _inertia_op, [()] * len(blocks),
            self.runner.put(np.ascontiguousarray(centers, dtype=self.dtype))))
        return inertia

    def release(self):
        """Drop the per-row state a fit left on the workers."""
        if self._token is not None:
            self.runner.run_beside(self._homes, _release_blocks,
                                   [(self._token, b) for b in range(len(self.xs))])
        self._forget_bounds()

