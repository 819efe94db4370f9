"""Per-row costs of the Hamerly and Lloyd passes, behind ``algorithm="auto"``.

``kmgmm._algorithms.geometry`` estimates what a Hamerly pass costs
against a Lloyd pass from what the pass did (rows whose bounds held, rows
tightened, rows scanned in full).  This script measures the per-row times
it uses, on this machine, 2 threads, and fits them as

    Lloyd pass          a_lloyd + b_lloyd * kp * d
    full scan of a row  a_scan  + b_scan  * kp * d
    tightening a row    a_tight + b_tight * d
    row whose bounds hold: a_skip

(kp: n_clusters rounded up to the micro-kernel's block of centres).  Run::

    OMP_NUM_THREADS=2 python benchmarks/calibrate_hamerly.py
"""
import time

import numpy as np

from kmgmm._kernels import common, hamerly, lloyd
from kmgmm._algorithms.geometry import center_geometry, largest_other_move

SHAPES = [(400_000, 8, 8), (300_000, 16, 32), (200_000, 32, 64), (100_000, 64, 16),
          (50_000, 128, 256), (40_000, 784, 10)]
N_THREADS = 2


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def measure(n, d, k, dtype):
    rng = np.random.RandomState(0)
    means = rng.standard_normal((k, d)) * 20
    X = (means[rng.randint(k, size=n)] + rng.standard_normal((n, d))).astype(dtype)
    w = np.ones(n, dtype)
    C = means.astype(dtype)
    labels = np.full(n, -1, np.int32)
    upper, lower = np.empty(n), np.zeros(n)
    sums, weights, counts = np.empty((k, d)), np.empty(k), np.empty(k, np.int64)
    xs = common.row_sqnorms(X, n_threads=N_THREADS)
    moved_rows, moved_from = np.empty(n, np.intc), np.empty(n, np.intc)
    half_sep = center_geometry(C)[1]

    def run(move, first=False, tighten=False, sep=half_sep):
        return hamerly.hamerly_pass(
            X, w, C, half_sep=sep, move=move, lower_drop=largest_other_move(move),
            labels=labels, upper=upper, lower=lower, sums=sums, weights=weights,
            counts=counts, first=first, exact=False, n_threads=N_THREADS, x_sqnorm=xs,
            tighten=tighten, moved_rows=moved_rows, moved_from=moved_from)

    run(np.zeros(k), first=True)
    nc = np.zeros(1, np.int64)
    lab2 = labels.copy()
    t_lloyd = best_of(lambda: lloyd.lloyd_pass(X, w, C, lab2, sums=sums, weights=weights,
                                               want_inertia=False, n_changed=nc,
                                               n_threads=N_THREADS))
    # Every bound fails (a huge move, no help from the centres' spacing),
    # with and without tightening first.
    big, no_sep = np.full(k, 1e9), np.zeros(k)
    t_scan = best_of(lambda: run(big, sep=no_sep))
    t_tight = best_of(lambda: run(big, tighten=True, sep=no_sep)) - t_scan
    # Bounds hold for (nearly) every row: the centres stay put.
    state = upper.copy(), lower.copy()
    run(np.zeros(k), first=True)
    out = run(np.zeros(k))
    t_skip = best_of(lambda: run(np.zeros(k)))
    upper[:], lower[:] = state
    return t_lloyd / n, t_scan / n, t_tight / n, t_skip / n, out[3] / n


def main():
    for dtype in (np.float32, np.float64):
        block = 16 if dtype == np.float32 else 8
        rows = []
        for n, d, k in SHAPES:
            kp = -(-k // block) * block
            tl, ts, tt, tk, failed = measure(n, d, k, dtype)
            rows.append((d, kp, tl, ts, tt, tk))
            print(f"{np.dtype(dtype).name} d={d:4d} k={k:4d}: per row, ns: lloyd {tl*1e9:7.1f}  "
                  f"scan {ts*1e9:7.1f}  tighten {tt*1e9:6.1f}  skip {tk*1e9:5.1f} "
                  f"(failing {failed:.3f})", flush=True)
        r = np.array(rows)
        work = np.column_stack([np.ones(len(r)), r[:, 1] * r[:, 0]])
        fit_l = np.linalg.lstsq(work, r[:, 2] * 1e9, rcond=None)[0]
        fit_s = np.linalg.lstsq(work, r[:, 3] * 1e9, rcond=None)[0]
        fit_t = np.linalg.lstsq(np.column_stack([np.ones(len(r)), r[:, 0]]), r[:, 4] * 1e9,
                                rcond=None)[0]
        print(f"{np.dtype(dtype).name}: lloyd {fit_l[0]:.2f} + {fit_l[1]:.4f} kp d; "
              f"scan {fit_s[0]:.2f} + {fit_s[1]:.4f} kp d; tighten {fit_t[0]:.2f} + "
              f"{fit_t[1]:.4f} d; skip {np.median(r[:, 5]) * 1e9:.2f} (ns per row)")


if __name__ == "__main__":
    main()
