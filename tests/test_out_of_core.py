"""A memory-mapped X is fitted in place: never copied whole, never written.

``KMeans`` and ``GaussianMixture`` fit ``np.load(path, mmap_mode="r")`` on
the file's pages.  Where the rows must be converted (another dtype, another
layout) or conditioned (data far from the origin), the engine does it a
block of rows at a time (``kmgmm._blocks``).  These tests check that the
block path gives the fit the copying path gives, and, with tracemalloc
(which sees NumPy's allocations), that no allocation near the size of X is
made while the same measurement of the copying path sees one.
``test_memory_limit.py`` fits a file larger than the memory the process may
use.
"""
import hashlib
import tracemalloc

import numpy as np
import pytest

from kmgmm import GaussianMixture, KMeans, _blocks
from kmgmm._blocks import BlockRows, is_memory_mapped

ALGORITHMS = ["lloyd", "hamerly", "elkan", "auto"]
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical", "fixed"]


def blobs(n=2000, d=8, k=5, seed=0):
    rng = np.random.RandomState(seed)
    means = rng.uniform(-6, 6, size=(k, d))
    y = rng.randint(k, size=n)
    return means[y] + 0.7 * rng.standard_normal((n, d))


def mapped(tmp_path, X, mode="r", name="X.npy"):
    path = tmp_path / name
    np.save(path, X)
    return np.load(path, mmap_mode=mode)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 300 rows of 8 features: ragged, and not a multiple of the
    kernels' 256-row chunks."""
    monkeypatch.setattr(_blocks, "BLOCK_VALUES", 2400)
    monkeypatch.setattr(_blocks, "MIN_ROWS", 1)


@pytest.fixture
def block_calls(monkeypatch):
    """How many times a pass walked the blocks of a ``BlockRows``."""
    calls = []
    walk = BlockRows.blocks

    def counted(self):
        calls.append(self.shape)
        return walk(self)

    monkeypatch.setattr(BlockRows, "blocks", counted)
    return calls


def assert_same_kmeans(km, ref, dtype, offset):
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    assert km.cluster_centers_.dtype == ref.cluster_centers_.dtype
    eps = float(np.finfo(dtype).eps)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=0,
                               atol=4 * abs(offset) * eps + 1e3 * eps)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=1e3 * eps)
    assert km.n_iter_ == ref.n_iter_


# ------------------------------------------------- same fit as the copy
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype, offset", [(np.float32, 1e6), (np.float64, 1e13),
                                           (np.float64, 0.0)])
def test_kmeans_on_a_memory_map_is_the_fit_in_memory(tmp_path, small_blocks, block_calls,
                                                     algorithm, dtype, offset):
    X = (blobs() + offset).astype(dtype)
    Xm = mapped(tmp_path, X)
    kw = {"n_clusters": 5, "algorithm": algorithm, "random_state": 0, "max_iter": 100}
    ref = KMeans(**kw).fit(X)
    assert not block_calls
    km = KMeans(**kw).fit(Xm)
    assert_same_kmeans(km, ref, dtype, offset)
    # Data far from the origin is conditioned block by block; data that
    # needs nothing is used as it is, without blocks.
    assert bool(block_calls) == (offset != 0)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_kmeans_random_init_and_relocation_on_blocks(tmp_path, small_blocks, block_calls,
                                                     algorithm):
    X = blobs(seed=3) + 1e9
    # Two initial centres far from every row: their clusters start empty and
    # take rows chosen from the blocks.
    init = np.vstack([X[:3], np.full((2, 8), 1e9 + 1e3)])
    Xm = mapped(tmp_path, X)
    for kw in ({"init": "random", "n_init": 3, "random_state": 1}, {"init": init}):
        ref = KMeans(5, algorithm=algorithm, **kw).fit(X)
        km = KMeans(5, algorithm=algorithm, **kw).fit(Xm)
        assert_same_kmeans(km, ref, np.float64, 1e9)
    assert block_calls


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_kmeans_when_squares_overflow_on_blocks(tmp_path, small_blocks, block_calls,
                                                algorithm):
    """Data that is scaled (by a power of two) as well as centred."""
    X = (blobs(seed=4) * 1e18).astype(np.float32)
    ref = KMeans(5, algorithm=algorithm, random_state=0).fit(X)
    km = KMeans(5, algorithm=algorithm, random_state=0).fit(mapped(tmp_path, X))
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-5)
    assert block_calls


@pytest.mark.parametrize("source", ["int16", "uint8", "float16", "fortran", "strided"])
def test_other_dtypes_and_layouts_are_converted_block_by_block(tmp_path, small_blocks,
                                                               block_calls, source):
    rng = np.random.RandomState(5)
    X = blobs(seed=5, d=9) * 10
    if source == "int16":
        raw = np.round(X + 20000).astype(np.int16)      # far from the origin too
    elif source == "uint8":
        raw = np.round(X + 128).astype(np.uint8)
    elif source == "float16":
        raw = X.astype(np.float16)
    else:
        raw = np.asfortranarray(X)
    Xm = mapped(tmp_path, raw)
    if source == "strided":
        Xm = Xm[:, ::2]                                  # a view of the map
    assert is_memory_mapped(Xm)
    expected = np.asarray(Xm).astype(np.float64)           # the copy a fit made before
    for algorithm in ALGORITHMS:
        ref = KMeans(4, algorithm=algorithm, random_state=rng.randint(100)).fit(expected)
        km = KMeans(4, algorithm=algorithm, random_state=ref.random_state).fit(Xm)
        assert_same_kmeans(km, ref, np.float64, 2e4)
    assert block_calls


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("source", ["float32", "int16"])
def test_mixture_on_a_memory_map_is_the_fit_in_memory(tmp_path, small_blocks, block_calls,
                                                      covariance_type, source):
    X = blobs(seed=6, d=5, k=3)
    if source == "float32":
        X = (X + 1e6).astype(np.float32)      # its k-means start is conditioned
        expected = X
    else:
        X = np.round(X * 100 + 5000).astype(np.int16)   # every pass converts
        expected = X.astype(np.float64)
    kw = {"covariance_type": covariance_type, "random_state": 0, "tol": 1e-6,
          "max_iter": 200}
    if covariance_type == "fixed":
        kw["variance"] = float(np.var(expected.astype(np.float64), axis=0).mean()) / 4
    ref = GaussianMixture(3, **kw)
    ref_labels = ref.fit_predict(expected)
    gm = GaussianMixture(3, **kw)
    labels = gm.fit_predict(mapped(tmp_path, X))
    np.testing.assert_array_equal(labels, ref_labels)
    eps = float(np.finfo(gm.means_.dtype).eps)
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(gm.means_, ref.means_, rtol=0, atol=1e3 * eps * scale)
    np.testing.assert_allclose(gm.covariances_, ref.covariances_, rtol=1e-3 if
                               eps > 1e-10 else 1e-8, atol=1e3 * eps * scale)
    assert gm.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-4 if eps > 1e-10
                                            else 1e-10)
    assert gm.n_iter_ == ref.n_iter_
    assert block_calls


# -------------------------------------------------------- never written
def file_digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("mode", ["r", "r+", "c"])
@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_a_memory_map_is_never_written_even_with_copy_x_false(tmp_path, block_calls, mode,
                                                              algorithm):
    X = blobs(seed=7) + 1e8
    Xm = mapped(tmp_path, X, mode=mode)
    before = file_digest(tmp_path / "X.npy")
    ref = KMeans(5, algorithm=algorithm, random_state=0).fit(X)
    km = KMeans(5, algorithm=algorithm, random_state=0, copy_x=False).fit(Xm)
    assert_same_kmeans(km, ref, np.float64, 1e8)
    np.testing.assert_array_equal(np.asarray(Xm), X)      # bit for bit, not restored
    if hasattr(Xm, "flush"):
        Xm.flush()
    assert file_digest(tmp_path / "X.npy") == before
    assert block_calls


def test_read_only_data_with_copy_x_false_is_conditioned_block_by_block(block_calls):
    X = blobs(seed=8) + 1e8
    X.setflags(write=False)
    ref = KMeans(5, random_state=0).fit(X)
    assert not block_calls                                 # copy_x=True copies
    km = KMeans(5, random_state=0, copy_x=False).fit(X)
    assert block_calls
    assert_same_kmeans(km, ref, np.float64, 1e8)


def test_a_nan_in_a_memory_map_is_refused(tmp_path):
    X = blobs(seed=9).astype(np.float16)
    X[-1, 3] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        KMeans(3).fit(mapped(tmp_path, X))
    X[-1, 3] = np.inf
    with pytest.raises(ValueError, match="X contains infinity"):
        GaussianMixture(2).fit(mapped(tmp_path, X.astype(np.float32), name="Y.npy"))


# ------------------------------------------------- no whole copy is made
def peak_bytes(fit):
    """Largest memory traced (NumPy's arrays included) while ``fit`` runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fit()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def large_blobs(dtype, offset, n, d=64, seed=10):
    """Blobs far from the origin (every fit conditions them)."""
    rng = np.random.RandomState(seed)
    centres = rng.uniform(-5, 5, size=(8, d))
    X = centres[rng.randint(8, size=n)] + rng.standard_normal((n, d))
    return (X + offset).astype(dtype)


FITS = [(f"kmeans-{a}", lambda X, a=a: KMeans(8, algorithm=a, random_state=0,
                                              max_iter=10).fit(X))
        for a in ALGORITHMS]
FITS += [(f"gmm-{c}", lambda X, c=c: GaussianMixture(
    4, covariance_type=c, random_state=0, max_iter=3, tol=0,
    **({"variance": 1.0} if c == "fixed" else {})).fit(X)) for c in COVARIANCE_TYPES]


@pytest.mark.filterwarnings("ignore::kmgmm.ConvergenceWarning")
@pytest.mark.parametrize("name, fit", FITS, ids=[name for name, _ in FITS])
@pytest.mark.parametrize("dtype", [np.float64, np.int16])
def test_memory_grows_with_x_by_much_less_than_a_copy(tmp_path, monkeypatch, name, fit,
                                                      dtype):
    """Each row of X adds to a fit's peak memory its per-row state (labels,
    bounds, seeding's order and distances: about 100 bytes) but not itself:
    measured as the growth of the peak from 10 000 rows to 20 000 (64
    features), so that buffers of a fixed size cancel out.  The same
    measurement of the fit of the array in memory, which conditions (or
    converts) a copy, sees the copy (512 bytes a row)."""
    # Blocks of 1024 rows (0.5 MiB), fewer than X has: a fixed size.
    monkeypatch.setattr(_blocks, "BLOCK_VALUES", 1024 * 64)
    monkeypatch.setattr(_blocks, "MIN_ROWS", 1)
    offset = 1e7 if dtype == np.float64 else 20000
    n = 10000
    small, large = (large_blobs(dtype, offset, m) for m in (n, 2 * n))
    per_row_copy = 64 * 8
    maps = [mapped(tmp_path, X, name=f"{len(X)}.npy") for X in (small, large)]
    on_map = [peak_bytes(lambda Xm=Xm: fit(Xm)) for Xm in maps]
    in_memory = [peak_bytes(lambda X=X: fit(X)) for X in (small, large)]
    print(f"bytes a row: on the map {(on_map[1] - on_map[0]) / n:.0f}, "
          f"in memory {(in_memory[1] - in_memory[0]) / n:.0f}")
    assert (on_map[1] - on_map[0]) / n < per_row_copy / 4
    assert (in_memory[1] - in_memory[0]) / n > per_row_copy


def test_finding_a_nan_allocates_no_mask_of_x(tmp_path):
    """The fit's per-row state before the check (the weights) is about 16
    bytes a row; np.isnan(X) would add 64 (64 float32 features).  (Measured
    with the former whole-array check: 50 bytes a row.)"""
    peaks = []
    for n in (30000, 60000):
        X = large_blobs(np.float32, 0.0, n)
        X[-1, -1] = np.nan
        Xm = mapped(tmp_path, X, name=f"{n}.npy")
        with pytest.raises(ValueError, match="X contains NaN"):
            KMeans(3).fit(Xm)
        peaks.append(peak_bytes(lambda Xm=Xm: pytest.raises(ValueError, KMeans(3).fit, Xm)))
    assert (peaks[1] - peaks[0]) / 30000 < 32
