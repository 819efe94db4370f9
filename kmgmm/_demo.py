"""``kmgmm demo``: k-means against every Gaussian mixture on a known mixture.

The data come from three 2-D Gaussians: two of unit covariance whose means
are 2 apart (they overlap heavily) and a third, elongated and tilted, well
away from them.  K-means is EM for a mixture with covariance σ²·I in the limit
σ² → 0 with hard assignments: it cuts the overlapping pair along the
bisector, so each centre is the mean of a truncated Gaussian and the two land
farther apart than the truth.  Soft EM does not cut, and recovers the
distance; hard (classification) EM cuts like k-means and is biased too.
"""
import json
import sys
import time
import warnings

import numpy as np

from ._covariance import COVARIANCE_TYPES
from ._metrics import adjusted_rand_score
from ._progress import IterationClock, ProgressLine, watch

TRUE_WEIGHTS = np.array([0.35, 0.35, 0.30])
TRUE_MEANS = np.array([[-1.0, 0.0], [1.0, 0.0], [2.0, 6.0]])
TRUE_COVARIANCES = np.array([np.eye(2), np.eye(2), [[2.0, 0.9], [0.9, 1.0]]])
OVERLAPPING = (0, 1)  # the components whose distance the table reports
MIN_SAMPLES = 10 * len(TRUE_WEIGHTS)   # a few rows per component at least
FIXED_VARIANCE = 1.0  # the overlapping pair's true variance
KMEANS_MAX_ITER = 300
EM_MAX_ITER = 100
EM_TOL = 1e-5


def make_data(n_samples, seed):
    """Rows, true labels: a seeded draw from the demo's mixture."""
    rng = np.random.default_rng(seed)
    y = rng.choice(len(TRUE_WEIGHTS), size=n_samples, p=TRUE_WEIGHTS)
    chol = np.linalg.cholesky(TRUE_COVARIANCES)
    z = rng.standard_normal((n_samples, TRUE_MEANS.shape[1]))
    X = TRUE_MEANS[y] + np.einsum("nij,nj->ni", chol[y], z)
    return X, y


def match_means(estimated):
    """Index of the estimated mean matched to each true mean (least squares)."""
    from scipy.optimize import linear_sum_assignment

    cost = ((TRUE_MEANS[:, None, :] - estimated[None, :, :]) ** 2).sum(axis=2)
    _, cols = linear_sum_assignment(cost)
    return cols


def overlap_distance(means):
    order = match_means(np.asarray(means, dtype=np.float64))
    i, j = (order[c] for c in OVERLAPPING)
    return float(np.linalg.norm(means[i] - means[j]))


def _fit_timed(estimator, X, label, progress, stop, objective):
    """Fit; return (total seconds, seconds per iteration, measured between calls).

    Per-iteration time is taken between the loop's callbacks, so it leaves
    out the initialisation; without callbacks it falls back to total / n_iter.
    """
    clock = IterationClock()

    def on_iteration(n_iter, value, change):
        clock.tick(n_iter)
        progress.update(f"kmgmm demo: {label}: iteration {n_iter}  {objective} "
                        f"{value:.6g}  elapsed {progress.elapsed():.1f} s")
        if stop is not None:
            stop.check(f"{label}, iteration {n_iter}")

    start = time.perf_counter()
    # A fit that stops at max_iter shows as "*" in the table, not as a warning.
    with watch(estimator, on_iteration), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X)
    total = time.perf_counter() - start
    per_iter = clock.seconds_per_iteration(total, estimator.n_iter_)
    return total, per_iter, clock.count > 0


def _configs(GaussianMixture, seed, n_threads, max_iter):
    for covariance_type in COVARIANCE_TYPES:
        for assignment in ("soft", "hard"):
            params = dict(n_components=len(TRUE_WEIGHTS), covariance_type=covariance_type,
                          assignment=assignment, tol=EM_TOL,
                          max_iter=max_iter or EM_MAX_ITER, random_state=seed,
                          n_threads=n_threads)
            if covariance_type == "fixed":
                params["variance"] = FIXED_VARIANCE
            yield covariance_type, assignment, GaussianMixture(**params)


def run_demo(n_samples=1_000_000, seed=0, n_threads=None, max_iter=None, plot=None,
             as_json=False, quiet=False, stop=None, out=None):
    import kmgmm
    from ._threads import effective_n_threads

    out = out or sys.stdout
    if n_samples < MIN_SAMPLES:
        raise ValueError(f"demo: n_samples={n_samples} is too small; use at least "
                         f"{MIN_SAMPLES}")
    progress = ProgressLine(enabled=not quiet)
    X, y = make_data(n_samples, seed)
    true_distance = float(np.linalg.norm(TRUE_MEANS[OVERLAPPING[0]]
                                         - TRUE_MEANS[OVERLAPPING[1]]))
    rows = []
    fitted = {}
    try:
        km = kmgmm.KMeans(len(TRUE_WEIGHTS), random_state=seed, n_threads=n_threads,
                          max_iter=max_iter or KMEANS_MAX_ITER)
        total, per_iter, between = _fit_timed(km, X, "k-means", progress, stop,
                                              "inertia")
        fitted["kmeans"] = km
        rows.append({
            "model": "k-means (Lloyd)", "covariance_type": None, "assignment": "hard",
            "seconds_per_iteration": per_iter, "timed_between_iterations": between,
            "n_iter": int(km.n_iter_), "converged": None, "seconds": total,
            "objective": float(km.inertia_) / n_samples,
            "objective_name": "inertia/n",
            "ari": adjusted_rand_score(y, km.labels_),
            "overlap_distance": overlap_distance(km.cluster_centers_),
        })
        GaussianMixture = getattr(kmgmm, "GaussianMixture", None)
        if GaussianMixture is not None:
            for covariance_type, assignment, gmm in _configs(
                    GaussianMixture, seed, n_threads, max_iter):
                label = f"GMM {covariance_type}, {assignment}"
                total, per_iter, between = _fit_timed(gmm, X, label, progress, stop,
                                                      "lower bound")
                if stop is not None:
                    stop.check(label)
                fitted[(covariance_type, assignment)] = gmm
                rows.append({
                    "model": f"GMM {covariance_type}"
                             + (f" (σ²={FIXED_VARIANCE:g})"
                                if covariance_type == "fixed" else ""),
                    "covariance_type": covariance_type, "assignment": assignment,
                    "seconds_per_iteration": per_iter,
                    "timed_between_iterations": between, "n_iter": int(gmm.n_iter_),
                    "converged": bool(gmm.converged_), "seconds": total,
                    "objective": float(gmm.lower_bound_),
                    "objective_name": "loglik/n",
                    "ari": adjusted_rand_score(y, gmm.predict(X)),
                    "overlap_distance": overlap_distance(gmm.means_),
                    "last_change": (float(np.diff(gmm.lower_bounds_[-2:])[0])
                                    if len(gmm.lower_bounds_) > 1 else float("nan")),
                    "smallest_weight": float(np.min(gmm.weights_)),
                })
    finally:
        progress.close()
    km_iter = rows[0]["seconds_per_iteration"]
    for row in rows:
        row["kmeans_iterations_faster"] = (row["seconds_per_iteration"] / km_iter
                                           if km_iter > 0 else float("nan"))
    if plot is not None:
        draw(plot, X, y, fitted)

    n_threads_used = effective_n_threads(n_threads)
    result = {
        "n_samples": n_samples, "n_features": X.shape[1], "seed": seed,
        "n_threads": n_threads_used,
        "true_means": TRUE_MEANS.tolist(), "true_weights": TRUE_WEIGHTS.tolist(),
        "true_overlap_distance": true_distance,
        "gaussian_mixture_available": len(rows) > 1,
        "rows": rows, "plot": plot,
    }
    if as_json:
        print(json.dumps(result, indent=2), file=out)
    else:
        print(format_table(result), file=out)
    return 0


def format_table(result):
    rows = result["rows"]
    head = (f"kmgmm demo: {result['n_samples']} points in {result['n_features']}-D from "
            f"3 Gaussians, two overlapping with means "
            f"{result['true_overlap_distance']:.3f} apart; "
            f"seed {result['seed']}, {result['n_threads']} threads")
    columns = ("model", "assign", "s/iter", "iters", "total s", "objective", "ARI",
               "|m1-m2|", "k-means iter faster")
    table = []
    for row in rows:
        iters = str(row["n_iter"]) + ("*" if row["converged"] is False else "")
        per_iter = f"{row['seconds_per_iteration']:.4f}" + (
            "" if row["timed_between_iterations"] else "+")
        table.append((
            row["model"], row["assignment"], per_iter,
            iters, f"{row['seconds']:.2f}",
            f"{row['objective']:.4f} {row['objective_name']}", f"{row['ari']:.3f}",
            f"{row['overlap_distance']:.3f}",
            "-" if row is rows[0] else f"{row['kmeans_iterations_faster']:.1f}x",
        ))
    widths = [max(len(c), *(len(t[i]) for t in table)) for i, c in enumerate(columns)]
    lines = [head, ""]
    lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for t in table:
        lines.append("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip())
    lines.append("")
    lines.append(f"|m1-m2|: estimated distance between the overlapping means "
                 f"(truth {result['true_overlap_distance']:.3f}); ARI: adjusted Rand "
                 "index against the true labels;")
    lines.append("objective: k-means mean squared distance, mixtures mean "
                 "log-likelihood per point; * not converged.")
    for row in rows:
        if row["converged"] is False and row["assignment"] == "hard":
            lines.append(
                f"{row['model']} hard: classification EM was still climbing "
                f"({row['last_change']:+.2g} loglik/n in its last iteration; smallest "
                f"weight {row['smallest_weight']:.3f}). Its objective grows without "
                "bound as a component's variance shrinks onto a few points, so with "
                "free variances hard EM can drift slowly toward such a collapse "
                "(README, 'The theory in brief'); the row shows where it stood.")
    if not all(row["timed_between_iterations"] for row in rows):
        lines.append("+ total time / iterations (initialisation included).")
    if not result["gaussian_mixture_available"]:
        lines.append("GaussianMixture is not available in this build: k-means only.")
    if result.get("plot"):
        lines.append(f"plot written to {result['plot']}")
    return "\n".join(lines)


def voronoi_cell(centers, i, lo, hi):
    """The polygon of the plot box [lo, hi] nearer to ``centers[i]`` than to
    every other centre: the box clipped by one half-plane per other centre."""
    polygon = [np.array(p, dtype=float) for p in
               ((lo[0], lo[1]), (hi[0], lo[1]), (hi[0], hi[1]), (lo[0], hi[1]))]
    for j, other in enumerate(centers):
        if j == i or not polygon:
            continue
        normal = other - centers[i]
        middle = (other + centers[i]) / 2
        side = [float((p - middle) @ normal) for p in polygon]
        clipped = []
        for k, p in enumerate(polygon):
            q, sp, sq = polygon[(k + 1) % len(polygon)], side[k], side[(k + 1) % len(polygon)]
            if sp <= 0:
                clipped.append(p)
            if (sp < 0 < sq) or (sq < 0 < sp):
                clipped.append(p + (q - p) * sp / (sp - sq))
        polygon = clipped
    return np.array(polygon)


def draw(path, X, y, fitted, n_points=20_000):
    """The data coloured by true component, the k-means cells and centres, and
    the soft full mixture's means and covariance ellipses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Ellipse, Polygon

    rng = np.random.default_rng(0)
    pick = rng.choice(X.shape[0], size=min(n_points, X.shape[0]), replace=False)
    fig, ax = plt.subplots(figsize=(8, 7), dpi=110)
    lo, hi = X[pick].min(axis=0) - 0.5, X[pick].max(axis=0) + 0.5
    km = fitted["kmeans"]
    centers = np.asarray(km.cluster_centers_, dtype=np.float64)
    shades = plt.get_cmap("Pastel2")
    for i in range(len(centers)):
        ax.add_patch(Polygon(voronoi_cell(centers, i, lo, hi), closed=True,
                             facecolor=shades(i), alpha=0.35, edgecolor="dimgrey",
                             linewidth=1.2, zorder=0))
    colours = plt.get_cmap("viridis")(np.linspace(0, 1, len(TRUE_WEIGHTS)))
    ax.scatter(X[pick, 0], X[pick, 1], c=colours[y[pick]], s=2, alpha=0.35,
               rasterized=True, zorder=1)
    ax.scatter(*TRUE_MEANS.T, marker="x", c="black", s=90, linewidths=2, zorder=3)
    ax.scatter(*centers.T, marker="+", c="red", s=160, linewidths=2.5, zorder=4)
    handles = [Line2D([], [], marker="o", linestyle="", color=colours[j], markersize=6,
                      label=f"points of true component {j + 1}")
               for j in range(len(TRUE_WEIGHTS))]
    handles += [Line2D([], [], marker="x", linestyle="", color="black", markersize=8,
                       label="true means"),
                Line2D([], [], marker="+", linestyle="", color="red", markersize=10,
                       markeredgewidth=2, label="k-means centres"),
                Polygon([[0, 0]], facecolor=shades(0), alpha=0.35, edgecolor="dimgrey",
                        label="k-means cells")]
    text = [f"|m1-m2|: truth {np.linalg.norm(TRUE_MEANS[0] - TRUE_MEANS[1]):.2f}",
            f"k-means {overlap_distance(centers):.2f}"]
    gmm = fitted.get(("full", "soft"))
    if gmm is not None:
        means = np.asarray(gmm.means_, dtype=np.float64)
        ax.scatter(*means.T, marker="o", facecolors="none", edgecolors="blue", s=110,
                   linewidths=1.8, zorder=5)
        for mean, cov in zip(means, np.asarray(gmm.covariances_)):
            vals, vecs = np.linalg.eigh(cov)
            angle = np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1]))
            for n_std in (1, 2):
                w, h = 2 * n_std * np.sqrt(vals[::-1])
                ax.add_patch(Ellipse(mean, w, h, angle=angle, fill=False,
                                     edgecolor="blue", linewidth=1.0,
                                     linestyle="-" if n_std == 1 else "--", zorder=2))
        handles += [Line2D([], [], marker="o", linestyle="", markerfacecolor="none",
                           markeredgecolor="blue", markersize=9,
                           label="mixture means (full covariance, soft EM)"),
                    Line2D([], [], color="blue", label="mixture 1σ (solid), 2σ (dashed)")]
        text.append(f"mixture {overlap_distance(means):.2f}")
    ax.text(0.99, 0.01, ", ".join(text), transform=ax.transAxes, ha="right",
            va="bottom", fontsize=9, bbox={"facecolor": "white", "alpha": 0.8,
                                           "edgecolor": "none"})
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.85)
    ax.set_title("Points coloured by their true component; k-means cells and centres;\n"
                 "the Gaussian mixture's means and covariance ellipses", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
