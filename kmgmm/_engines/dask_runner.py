"""How the Dask engine runs block tasks: in this process with Dask's default
scheduler (no Client), or on the cluster of a ``distributed.Client`` with
futures, one small task per round's parameters and a reduction tree whose
shape and order depend only on the number of blocks."""
import concurrent.futures
import contextlib
import operator
import sys
import uuid
from concurrent.futures import CancelledError

import dask
import dask.array as da
import numpy as np
from dask.sizeof import sizeof

from .._threads import effective_n_threads

# Seconds between looks at the cluster's workers while pinned tasks run (a
# task pinned to a worker that left would wait for ever).
WATCH_SECONDS = 2.0

# Children per node of the reduction tree.
FAN_IN = 8

# A round's parameters travel inside the block tasks when all their copies
# together are at most this large (one network message per task, no extra
# hop); larger ones as one task the block tasks depend on.
INLINE_BYTES = 8 << 20

# Block statistics that are at most this large all together come back to the
# client and are added there, in the order of the tree (the same sums, one hop
# instead of one per level); larger ones are added on the workers.
GATHER_BYTES = 16 << 20


class Blocks(list):
    """One item per block of rows (an argument that varies per task)."""


def _add(*parts):
    """Add block statistics: arrays and numbers add, tuples concatenate."""
    out = list(parts[0])
    for part in parts[1:]:
        for i, value in enumerate(part):
            out[i] = out[i] + value
    return tuple(out)


def add_in_tree(parts):
    """The sum of block statistics (see ``_add``), added in the tree whose
    shape depends only on their number."""
    parts = list(parts)
    while len(parts) > 1:
        parts = [_add(*parts[i:i + FAN_IN]) for i in range(0, len(parts), FAN_IN)]
    return parts[0]


def task_threads(n_threads):
    """OpenMP threads for one block task: the estimator's setting, else the
    worker's threads shared among the tasks it is running now."""
    if n_threads is not None:
        return n_threads
    worker = None
    if "distributed" in sys.modules:
        try:
            worker = sys.modules["distributed"].get_worker()
        except ValueError:
            worker = None
    if worker is None:
        return effective_n_threads(None)
    busy = max(1, len(worker.state.executing))
    return max(1, worker.state.nthreads // busy)


def weights_of(x, w):
    """A block's weights: ``w``, or ones when the fit has none."""
    return np.ones(x.shape[0], dtype=x.dtype) if w is None else w


def nbytes(obj):
    """Bytes of ``obj`` and, for an object of the package, of its attributes."""
    attrs = getattr(obj, "__dict__", None)
    if attrs is None:
        return sizeof(obj)
    return sizeof(obj) + sum(nbytes(value) for value in attrs.values())


def _hold(obj):
    return obj


def _each(fn, rows, shared, positions):
    """``fn`` once per row of per-block arguments (set at ``positions`` of
    ``shared``): the results, in order."""
    out = []
    for row in rows:
        args = list(shared)
        for position, value in zip(positions, row):
            args[position] = value
        out.append(fn(*args))
    return out


class LocalRunner:
    """No Client: blocks computed by Dask's default scheduler, tasks run here."""

    def __init__(self):
        self.client = None

    def blocks(self, arr):
        if arr is None:
            return None
        return Blocks(dask.compute(*arr.to_delayed().ravel()))

    def put(self, obj):
        return obj

    def map(self, fn, *args):
        n = next(len(a) for a in args if isinstance(a, Blocks))
        return Blocks(
            fn(*[a[i] if isinstance(a, Blocks) else a for a in args]) for i in range(n))

    def reduce(self, parts, part_nbytes=None):
        """The sum of the blocks' statistics, added in the tree.  ``part_nbytes``
        (one block's statistics, when known) lets a cluster runner choose
        where to add them; the sums are the same."""
        return add_in_tree(parts)

    def gather(self, parts):
        return list(parts)

    def item(self, parts, index):
        return Blocks(p[index] for p in parts)

    def places(self, blocks):
        """Where each block's data is: a worker's address, or None."""
        return [None] * len(blocks)

    def run_near(self, places, fn, *args):
        """``map``'s results (gathered), the blocks at one place (see
        ``places``) run by one task there when it can."""
        return list(self.map(fn, *args))

    def run_beside(self, homes, fn, items, *args, places=None):
        """``fn(part, *args)`` over ``items`` (one per block), cut into the parts
        whose blocks share a home worker (where their state was left; blocks
        without one go by ``places``): the results, one per item, in order.
        Here: one part."""
        return list(fn(list(items), *args))

    def to_array(self, parts, chunks, dtype):
        return da.from_array(np.concatenate(list(parts)), chunks=(chunks,))


class ClusterRunner(LocalRunner):
    """A ``distributed.Client``: futures, a task per round's parameters, a reduction tree."""

    def __init__(self, client):
        self.client = client
        self.n_blocks = 1
        self._pool = None       # the thread that gathers while the client watches

    def blocks(self, arr):
        if arr is None:
            return None
        arr = self.client.persist(arr)
        futures = {f.key: f for f in sys.modules["distributed"].futures_of(arr)}
        out = Blocks(futures[key] for key in dask.core.flatten(arr.__dask_keys__()))
        self.n_blocks = max(self.n_blocks, len(out))
        return out

    def put(self, obj):
        # Small parameters go inside every block task.  Larger ones are held
        # by one small task: the scheduler sends them once, workers copy them
        # from each other, and a worker lost with the only copy is handled
        # like any lost task.  (A broadcast scatter can hang while the
        # scheduler has not yet noticed a dead worker.)
        if nbytes(obj) * self.n_blocks <= INLINE_BYTES:
            return obj
        return self.client.submit(_hold, obj, pure=False)

    def map(self, fn, *args):
        n = next(len(a) for a in args if isinstance(a, Blocks))
        lists = [a if isinstance(a, Blocks) else [a] * n for a in args]
        return Blocks(self.client.map(fn, *lists, pure=False))

    def reduce(self, parts, part_nbytes=None):
        parts = list(parts)
        if part_nbytes is not None and part_nbytes * len(parts) <= GATHER_BYTES:
            return LocalRunner.reduce(self, self.client.gather(parts))
        while len(parts) > 1:
            parts = [self.client.submit(_add, *parts[i:i + FAN_IN], pure=False)
                     if len(parts[i:i + FAN_IN]) > 1 else parts[i]
                     for i in range(0, len(parts), FAN_IN)]
        return parts[0].result()

    def gather(self, parts):
        return self.client.gather(list(parts))

    def item(self, parts, index):
        return Blocks(self.client.map(operator.getitem, parts, [index] * len(parts),
                                      pure=False))

    def places(self, blocks):
        blocks = list(blocks)
        sys.modules["distributed"].wait(blocks)
        who = self.client.who_has(blocks)
        return [min(who.get(f.key) or [None], key=str) for f in blocks]

    def run_near(self, places, fn, *args):
        # One task per worker over the blocks it holds (loosely: a worker that
        # left, or is busy, only moves the data), named for ``fn``.  The
        # results come back to the client in block order, as one task per
        # block would give them.
        n = len(places)
        positions = [i for i, a in enumerate(args) if isinstance(a, Blocks)]
        shared = [None if isinstance(a, Blocks) else a for a in args]
        groups = {}
        for b, place in enumerate(places):
            groups.setdefault(place, []).append(b)
        futures = [self.client.submit(
            _each, fn, [[args[p][b] for p in positions] for b in index], shared,
            positions, key=f"{fn.__name__}-{uuid.uuid4().hex}",
            **({"workers": [place], "allow_other_workers": True} if place else {}))
            for place, index in groups.items()]
        out = [None] * n
        for index, results in zip(groups.values(), self.client.gather(futures)):
            for b, value in zip(index, results):
                out[b] = value
        return out

    def run_beside(self, homes, fn, items, *args, places=None):
        # One task per home worker over its blocks, pinned there: the
        # scheduler neither runs it elsewhere nor lets another worker steal
        # it.  Blocks without a home run one task per worker holding their
        # data (``places``), loosely.  A home that leaves the cluster would
        # leave its task waiting for ever: its blocks run again, one task
        # each, anywhere (the tasks rebuild what state they need).
        if places is None:
            places = [None] * len(items)
        groups = {}
        for i, (home, place) in enumerate(zip(homes, places)):
            groups.setdefault((home, place if home is None else None), []).append(i)
        jobs = [(index, home, place) for (home, place), index in groups.items()]
        out = [None] * len(items)
        while jobs:
            futures = [self.client.submit(
                fn, [items[i] for i in index], *args, pure=False,
                **({"workers": [home], "allow_other_workers": False} if home else
                   {"workers": [place], "allow_other_workers": True} if place else {}))
                for index, home, place in jobs]
            results, lost = self._gather_watching(futures, [home for _, home, _ in jobs])
            for (index, _, _), result in zip(jobs, results):
                if result is not None:
                    for i, value in zip(index, result):
                        out[i] = value
            jobs = [([i], None, None) for j in lost for i in jobs[j][0]]
        return out

    def _gather_watching(self, futures, homes):
        """The results of ``futures`` (None for the lost ones), and the
        indices of those whose home worker left the cluster while they
        waited (checked every ``WATCH_SECONDS``; only the cluster's list of
        workers decides, never the time taken)."""
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(1)
        job = self._pool.submit(self.client.gather, futures)
        while True:
            try:
                return job.result(timeout=WATCH_SECONDS), []
            except concurrent.futures.TimeoutError:
                pass
            alive = set(self.client.scheduler_info()["workers"])
            lost = [j for j, home in enumerate(homes) if home and home not in alive]
            if lost:
                break
        self.client.cancel([futures[j] for j in lost])
        kept = [j for j in range(len(futures)) if j not in set(lost)]
        with contextlib.suppress(CancelledError):     # the cancelled futures
            job.result()
        results = [None] * len(futures)
        if kept:
            got, more = self._gather_watching([futures[j] for j in kept],
                                              [homes[j] for j in kept])
            for j, value in zip(kept, got):
                results[j] = value
            lost += [kept[m] for m in more]
        return results, lost

    def to_array(self, parts, chunks, dtype):
        return da.concatenate([
            da.from_delayed(dask.delayed(f), shape=(n,), dtype=dtype)
            for f, n in zip(parts, chunks)])


def here():
    """The address of the worker running this task, or None outside a cluster."""
    dist = sys.modules.get("distributed")
    if dist is None:
        return None
    try:
        return dist.get_worker().address
    except ValueError:
        return None


def runner():
    """The engine for the current ``distributed.Client``, or a local one."""
    if "distributed" in sys.modules:
        try:
            client = sys.modules["distributed"].default_client()
        except ValueError:
            client = None
        if client is not None:
            return ClusterRunner(client)
    return LocalRunner()


