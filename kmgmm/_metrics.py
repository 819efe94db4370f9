"""Clustering metrics in NumPy (scikit-learn is not a run-time dependency)."""
import numpy as np


def _pairs(counts):
    counts = counts.astype(np.float64)
    return float(np.sum(counts * (counts - 1.0)) / 2.0)


def adjusted_rand_score(labels_true, labels_pred):
    """Adjusted Rand index of two labelings (Hubert & Arabie, 1985).

    1.0 for identical partitions up to a renaming of the labels, about 0.0
    for independent ones; the same value as
    ``sklearn.metrics.adjusted_rand_score``.
    """
    labels_true = np.asarray(labels_true).ravel()
    labels_pred = np.asarray(labels_pred).ravel()
    if labels_true.shape != labels_pred.shape:
        raise ValueError(
            f"labels_true and labels_pred must have the same length, got "
            f"{labels_true.size} and {labels_pred.size}.")
    n = labels_true.size
    _, a = np.unique(labels_true, return_inverse=True)
    _, b = np.unique(labels_pred, return_inverse=True)
    n_a, n_b = int(a.max(initial=-1)) + 1, int(b.max(initial=-1)) + 1
    # Special cases as in scikit-learn: no pairs, or both partitions trivial.
    if n < 2 or n_a == n_b == 1 or n_a == n_b == n:
        return 1.0
    contingency = np.bincount(a.astype(np.int64) * n_b + b, minlength=n_a * n_b)
    index = _pairs(contingency)
    sum_a = _pairs(np.bincount(a, minlength=n_a))
    sum_b = _pairs(np.bincount(b, minlength=n_b))
    expected = sum_a * sum_b / (n * (n - 1.0) / 2.0)
    maximum = (sum_a + sum_b) / 2.0
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))
