"""Fits of a memory-mapped ``.npy`` larger than the memory the process may use.

Each test makes a memory cgroup (cgroup v1, a child of this process's own:
``memory.limit_in_bytes``, the process id written to ``cgroup.procs``), runs
a Python subprocess in it and removes it afterwards.  The file (410 MB of
float64 far from the origin, so that every k-means fit conditions it) is
twice the limit (200 MB).  Before each run its pages are dropped from the
page cache, so the subprocess reads them in itself: they count towards its
limit and the kernel reclaims them as the passes go on.  The fits must
succeed and equal the fits of the array loaded whole without a limit; the
same subprocess copying X whole (``np.array(X)``, or a fit with the
memory-map detection switched off, which conditions a copy as it does for an
array in memory) must fail, which shows the limit binds.

Skipped, with the reason, only where no memory cgroup can be made (not root,
no cgroup v1 memory controller).
"""
import json
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

import kmgmm
from kmgmm import GaussianMixture, KMeans

LIMIT = 200 * 10**6                                   # 200 MB
N_SAMPLES, N_FEATURES, N_CLUSTERS = 400_000, 128, 4     # 410 MB of float64
OFFSET = 1e4
CHUNK_ROWS = 50_000
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(kmgmm.__file__)))


# ------------------------------------------------------------ the cgroup
def _memory_hierarchy():
    """Mount point of the cgroup v1 memory controller, mounting it if need be."""
    def mounted():
        with open("/proc/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                if fields[2] == "cgroup" and "memory" in fields[3].split(","):
                    return fields[1]
        return None

    root = mounted()
    if root is None and os.path.isdir("/sys/fs/cgroup"):
        target = "/sys/fs/cgroup/memory"
        try:
            os.makedirs(target, exist_ok=True)
            subprocess.run(["mount", "-t", "cgroup", "-o", "memory", "memory", target],
                           check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        root = mounted()
    return root


class MemoryCgroup:
    """A memory cgroup with a limit, under this process's own."""

    def __init__(self, limit, name):
        if os.geteuid() != 0:
            pytest.skip("making a memory cgroup needs root")
        root = _memory_hierarchy()
        if root is None:
            pytest.skip("no cgroup v1 memory controller is mounted or mountable")
        parent = root
        with open("/proc/self/cgroup") as own:
            for line in own:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if "memory" in controllers.split(",") and os.path.isdir(root + path):
                    parent = root + path
        self.path = os.path.join(parent, f"kmgmm-test-{os.getpid()}-{name}")
        try:
            os.mkdir(self.path)
            self._write("memory.limit_in_bytes", limit)
            if os.path.exists(os.path.join(self.path, "memory.memsw.limit_in_bytes")):
                self._write("memory.memsw.limit_in_bytes", limit)     # no swap either
        except OSError as exc:
            self.remove()
            pytest.skip(f"cannot make a memory cgroup under {parent}: {exc}")

    def _write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(str(value))

    def read(self, name):
        with open(os.path.join(self.path, name)) as f:
            return f.read()

    def run(self, args, timeout=300):
        """Run ``args`` in the cgroup (with the kmgmm under test importable);
        the CompletedProcess."""
        procs = os.path.join(self.path, "cgroup.procs")
        shell = f'echo $$ > "{procs}" && exec "$@"'
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [PACKAGE_ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                              if p]))
        return subprocess.run(["/bin/sh", "-c", shell, "sh", *args], capture_output=True,
                              text=True, timeout=timeout, check=False, env=env,
                              cwd=tempfile.gettempdir())   # no kmgmm/ source tree here

    def peak(self):
        return int(self.read("memory.max_usage_in_bytes"))

    def charged(self):
        """Bytes of pages charged to the cgroup since it was made (pgpgin)."""
        stat = dict(line.split() for line in self.read("memory.stat").splitlines())
        return int(stat["pgpgin"]) * os.sysconf("SC_PAGE_SIZE")

    def check_reclaimed(self, data_bytes):
        """The run charged more than ``data_bytes`` (the file's pages, read at
        least once) but never held more than the limit: the file's pages were
        reclaimed as it went."""
        assert self.charged() > data_bytes > 2 * LIMIT
        assert self.peak() <= LIMIT

    def remove(self):
        if os.path.isdir(self.path):
            os.rmdir(self.path)


@pytest.fixture
def cgroup(request):
    group = MemoryCgroup(LIMIT, request.node.name.replace("[", "-").strip("]"))
    yield group
    group.remove()


# -------------------------------------------------------------- the data
def evict(path):
    """Drop the file's pages from the page cache (they are clean: synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """A .npy of blobs, twice the limit, written a chunk at a time."""
    path = tmp_path_factory.mktemp("big") / "X.npy"
    rng = np.random.RandomState(0)
    centres = rng.uniform(-4, 4, size=(N_CLUSTERS, N_FEATURES))
    noise = rng.standard_normal((CHUNK_ROWS, N_FEATURES))
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64,
                                  shape=(N_SAMPLES, N_FEATURES))
    for c, start in enumerate(range(0, N_SAMPLES, CHUNK_ROWS)):
        y = np.random.RandomState(c).randint(N_CLUSTERS, size=CHUNK_ROWS)
        X[start:start + CHUNK_ROWS] = centres[y] + np.roll(noise, 97 * c, axis=0) + OFFSET
    X.flush()
    del X
    assert os.path.getsize(path) > 2 * LIMIT
    yield path
    os.remove(path)


# The fits of the subprocess; the reference makes the same in this process.
FITS = {
    "lloyd": "KMeans(4, init=init, algorithm='lloyd', max_iter=1)",
    "hamerly": "KMeans(4, init=init, algorithm='hamerly', max_iter=2)",
    "elkan": "KMeans(4, init=init, algorithm='elkan', max_iter=2)",
    "gmm-diag": ("GaussianMixture(4, covariance_type='diag', max_iter=1, "
                 "weights_init=gm_w, means_init=init, precisions_init=gm_p)"),
}

SCRIPT = textwrap.dedent("""
    import json, resource, sys, threading, time
    import numpy as np
    import kmgmm
    from kmgmm import GaussianMixture, KMeans

    path, out, names, mode = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4]
    X = np.load(path, mmap_mode="r")
    if mode == "np.array":
        Y = np.array(X)
        print("copied", Y.nbytes)
        sys.exit(0)
    if mode == "copying-fit":
        # The detection switched off: the fit conditions a copy of X, as it
        # does for an array in memory.
        import kmgmm._engines as engines, kmgmm._engines.memory as memory
        engines.is_memory_mapped = memory.is_memory_mapped = lambda X: False

    # The peak of this process's anonymous memory (its own allocations; the
    # file's pages are counted apart), sampled every 5 ms.
    peak = [0]
    def sample():
        while True:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("RssAnon:"):
                        peak[0] = max(peak[0], int(line.split()[1]) * 1024)
            time.sleep(0.005)
    threading.Thread(target=sample, daemon=True).start()
    time.sleep(0.05)
    base = peak[0]          # the interpreter and the imports

    init = np.array(X[[0, 1, 2, 3, 5, 8, 13, 21][:4]])
    gm_w = np.full(4, 0.25)
    gm_p = np.ones((4, X.shape[1]))
    result = {}
    for name in names:
        est = eval(FITS[name])
        start = time.perf_counter()
        if name.startswith("gmm"):
            labels = est.fit_predict(X)
            centres = est.means_
        else:
            labels = est.fit(X).labels_
            centres = est.cluster_centers_
        result[name] = time.perf_counter() - start
        np.save(f"{out}-{name}-labels.npy", labels)
        np.save(f"{out}-{name}-centres.npy", centres)
    result["peak_anon"] = peak[0]
    result["base_anon"] = base
    result["kmgmm"] = kmgmm.__file__
    print(json.dumps(result))
""")


def run_in(cgroup, big_file, tmp_path, names, mode="fit"):
    evict(big_file)
    script = tmp_path / "fit.py"
    script.write_text(f"FITS = {FITS!r}\n" + SCRIPT)
    return cgroup.run([sys.executable, str(script), str(big_file), str(tmp_path / "out"),
                       ",".join(names), mode])


def reference(big_file, name):
    """The fit of the array loaded whole, without a limit."""
    X = np.load(big_file)
    init = np.array(X[[0, 1, 2, 3, 5, 8, 13, 21][:4]])
    gm_w = np.full(4, 0.25)
    gm_p = np.ones((4, X.shape[1]))
    est = eval(FITS[name], {"KMeans": KMeans, "GaussianMixture": GaussianMixture},
               {"init": init, "gm_w": gm_w, "gm_p": gm_p})
    if name.startswith("gmm"):
        return est.fit_predict(X), est.means_
    return est.fit(X).labels_, est.cluster_centers_


def killed_for_memory(proc):
    return proc.returncode == -9 or "MemoryError" in proc.stderr


# ------------------------------------------------------------- the tests
@pytest.mark.filterwarnings("ignore::kmgmm.ConvergenceWarning")
def test_fits_of_a_file_twice_the_limit_succeed_and_equal_the_fit_in_memory(
        cgroup, big_file, tmp_path):
    names = list(FITS)
    proc = run_in(cgroup, big_file, tmp_path, names)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["kmgmm"].startswith(PACKAGE_ROOT)        # the kmgmm under test
    peak = cgroup.peak()
    print(f"\ncgroup limit {LIMIT / 1e6:.0f} MB, file "
          f"{os.path.getsize(big_file) / 1e6:.0f} MB: cgroup peak "
          f"{peak / 1e6:.0f} MB (page cache included), peak anonymous memory "
          f"{report['peak_anon'] / 1e6:.0f} MB ({report['base_anon'] / 1e6:.0f} MB before "
          "the fits); seconds "
          + ", ".join(f"{n} {report[n]:.1f}" for n in names))
    # The file's pages were charged here and reclaimed as the passes went
    # on, while the process's own memory stayed well below the limit.
    cgroup.check_reclaimed(os.path.getsize(big_file))
    # What the fits added to the process (a copy of X would be twice the limit).
    assert report["peak_anon"] - report["base_anon"] < 0.5 * LIMIT
    for name in names:
        labels, centres = reference(big_file, name)
        np.testing.assert_array_equal(np.load(tmp_path / f"out-{name}-labels.npy"), labels)
        np.testing.assert_allclose(np.load(tmp_path / f"out-{name}-centres.npy"), centres,
                                   rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("mode", ["np.array", "copying-fit"])
def test_copying_the_file_whole_fails_under_the_same_limit(cgroup, big_file, tmp_path,
                                                           mode):
    proc = run_in(cgroup, big_file, tmp_path, ["lloyd"], mode)
    assert proc.returncode != 0, proc.stdout
    assert killed_for_memory(proc), (proc.returncode, proc.stderr[-2000:])


def test_the_command_line_fits_a_file_twice_the_limit(cgroup, big_file, tmp_path):
    model, labels = tmp_path / "model.npz", tmp_path / "labels.npy"
    evict(big_file)
    proc = cgroup.run([sys.executable, "-m", "kmgmm", "fit", str(big_file), "-k", "2",
                       "--seed", "0", "--max-iter", "1", "-o", str(model),
                       "--labels", str(labels), "-q", "--json"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    cgroup.check_reclaimed(os.path.getsize(big_file))
    summary = json.loads(proc.stdout)
    assert summary["n_samples"] == N_SAMPLES
    fitted = kmgmm.load(model)
    ref = KMeans(2, random_state=0, max_iter=1).fit(np.load(big_file))
    np.testing.assert_array_equal(np.load(labels), ref.labels_)
    np.testing.assert_allclose(fitted.cluster_centers_, ref.cluster_centers_, rtol=1e-12,
                               atol=1e-9)


def test_the_streamed_mixture_fits_a_file_twice_the_limit(cgroup, big_file, tmp_path):
    """``--model gmm --mini-batch``: online EM a block of rows at a time, and
    the labels in one more streamed pass."""
    model, labels = tmp_path / "model.npz", tmp_path / "labels.npy"
    evict(big_file)
    proc = cgroup.run([sys.executable, "-m", "kmgmm", "fit", str(big_file), "-k", "4",
                       "--model", "gmm", "--mini-batch", "--covariance-type", "diag",
                       "--batch-size", "8192", "-o", str(model), "--labels", str(labels),
                       "-q", "--json"], timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cgroup.check_reclaimed(os.path.getsize(big_file))
    summary = json.loads(proc.stdout)
    fitted = kmgmm.load(model)
    assert summary["n_samples"] == N_SAMPLES and fitted.n_steps_ == summary["n_steps"] > 1
    X = np.load(big_file, mmap_mode="r")
    np.testing.assert_array_equal(np.load(labels), fitted.predict(X))
    assert summary["objective_value"] == pytest.approx(fitted.score(X), rel=1e-9)
