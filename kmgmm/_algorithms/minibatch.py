"""Mini-batch k-means (Sculley, "Web-scale k-means clustering", WWW 2010), in
the form scikit-learn's ``MiniBatchKMeans`` gives it: a per-centre learning
rate from the weight the centre has accumulated, reassignment of centres that
hold too little of it, and early stopping on a smoothed batch inertia.

A step is one Lloyd pass over a batch (an engine's ``lloyd_pass``: labels,
per-cluster weighted sums ``s_j`` and weights ``w_j``, the batch inertia),
then, for every centre the batch reached,

    W_j <- W_j + w_j,    c_j <- c_j (1 - w_j / W_j) + s_j / W_j,

the running weighted mean of every row the centre has been given.  The
centres and their weights are kept in float64 here (a centre that has
accumulated a large weight moves by small amounts, which float32 centres
would round away); the pass sees them in the data's dtype.
"""
import numpy as np


def update_centers(centers, counts, sums, weights):
    """One mini-batch update, in place on the float64 ``centers`` and ``counts``.

    ``sums`` and ``weights`` are the batch's per-cluster weighted sums and
    weights; a centre the batch did not reach keeps its place and weight.
    """
    hit = np.flatnonzero(weights > 0)
    if hit.size == 0:
        return
    total = counts[hit] + weights[hit]
    counts[hit] = total
    keep = 1.0 - weights[hit] / total
    centers[hit] = centers[hit] * keep[:, None] + sums[hit] / total[:, None]


def small_clusters(counts, ratio, n_rows):
    """The centres to reassign: weight below ``ratio`` times the largest
    weight, at most half the batch's rows of them (the lightest)."""
    small = counts < ratio * counts.max()
    limit = int(0.5 * n_rows)
    if np.count_nonzero(small) > limit:
        small[np.argsort(counts, kind="stable")[limit:]] = False
    return small


def reassign(centers, counts, batch, ratio, random_state):
    """Move the centres that hold too little weight onto random rows of the
    batch (rows of positive weight, drawn without replacement); their weight
    becomes the smallest weight of the centres kept, so that they are not
    reassigned again at once.  Returns how many centres moved."""
    small = small_clusters(counts, ratio, batch.n_positive)
    n_small = int(np.count_nonzero(small))
    if n_small == 0:
        return 0
    if n_small == counts.shape[0]:
        # (only with a ratio above 1) keep the heaviest centre
        small[int(np.argmax(counts))] = False
        n_small -= 1
    picked = random_state.choice(batch.n_positive, size=n_small, replace=False)
    centers[small] = batch.positive_rows(picked)
    counts[small] = counts[~small].min()
    return n_small


class EarlyStopping:
    """scikit-learn's stopping rule for mini-batch k-means.

    The batch inertia per unit of weight is smoothed by an exponentially
    weighted average whose weight is ``2 * batch_size / (n_samples + 1)`` (a
    window of about one pass over the data); the fit stops when that average
    has not reached a new minimum for ``max_no_improvement`` consecutive
    steps, or when ``tol`` > 0 and the squared move of the centres in one
    step is at most ``tol``.  The first step is not counted: its inertia is
    that of the initial centres.
    """

    def __init__(self, n_samples, batch_size, *, max_no_improvement, tol, verbose=0):
        self.alpha = min(batch_size * 2.0 / (n_samples + 1), 1.0)
        self.max_no_improvement = max_no_improvement
        self.tol = tol
        self.verbose = verbose
        self.ewa = None
        self.ewa_min = None
        self.no_improvement = 0
        self.last = None

    def update(self, step, n_steps, batch_inertia, shift):
        """Record step ``step`` (counted from 1); True when the fit should stop.

        ``batch_inertia`` is the batch's inertia per unit of weight.
        """
        self.last = batch_inertia
        if step == 1:
            if self.verbose:
                print(f"Minibatch step {step}/{n_steps}: mean batch inertia: "
                      f"{batch_inertia:.6g}")
            return False
        if self.ewa is None:
            self.ewa = batch_inertia
        else:
            self.ewa = self.ewa * (1 - self.alpha) + batch_inertia * self.alpha
        if self.verbose:
            print(f"Minibatch step {step}/{n_steps}: mean batch inertia: "
                  f"{batch_inertia:.6g}, ewa inertia: {self.ewa:.6g}")
        if self.tol > 0.0 and shift <= self.tol:
            if self.verbose:
                print(f"Converged (small centers change) at step {step}/{n_steps}")
            return True
        if self.ewa_min is None or self.ewa < self.ewa_min:
            self.no_improvement = 0
            self.ewa_min = self.ewa
        else:
            self.no_improvement += 1
        if (self.max_no_improvement is not None
                and self.no_improvement >= self.max_no_improvement):
            if self.verbose:
                print("Converged (lack of improvement in inertia) at step "
                      f"{step}/{n_steps}")
            return True
        return False

    @property
    def smoothed(self):
        """The smoothed inertia per unit of weight (the last batch's before
        there is one)."""
        return self.last if self.ewa is None else self.ewa


class MiniBatchState:
    """What a mini-batch fit carries from step to step: the float64 centres
    and their accumulated weights, and the rows seen since the last
    reassignment (scikit-learn checks for small centres every ``10 *
    n_clusters`` rows, and at every step while a centre has no weight)."""

    def __init__(self, centers, counts=None):
        self.centers = np.array(centers, dtype=np.float64, order="C")
        k = self.centers.shape[0]
        self.counts = (np.zeros(k) if counts is None
                       else np.array(counts, dtype=np.float64))
        self.since_reassign = 0

    def reassign_due(self, n_rows):
        self.since_reassign += n_rows
        if (self.counts == 0).any() or self.since_reassign >= 10 * self.centers.shape[0]:
            self.since_reassign = 0
            return True
        return False


def minibatch_step(batch, state, dtype, *, reassignment_ratio, random_state,
                   want_shift=False, verbose=0):
    """One step on ``batch`` (an engine with ``lloyd_pass``); updates ``state``.

    Returns (inertia, squared centre move) where the inertia is the batch's
    weighted inertia under the centres before the step, and the move is
    computed only with ``want_shift`` (else 0).
    """
    reassign_now = state.reassign_due(batch.n)
    before = state.centers.copy() if want_shift else None
    sums, weights, inertia = batch.lloyd_pass(state.centers.astype(dtype))
    update_centers(state.centers, state.counts, sums, weights)
    if reassign_now and reassignment_ratio > 0:
        moved = reassign(state.centers, state.counts, batch, reassignment_ratio,
                         random_state)
        if moved and verbose:
            print(f"[MiniBatchKMeans] Reassigning {moved} cluster centers.")
    shift = 0.0
    if want_shift:
        diff = state.centers - before
        shift = float(np.einsum("ij,ij->", diff, diff))
    return inertia, shift


def minibatch_kmeans(batches, state, dtype, *, n_steps, stopping, reassignment_ratio,
                     random_state, verbose=0, callback=None):
    """Run up to ``n_steps`` steps on the batches ``batches.next()`` gives.

    ``callback(step, batch_inertia, shift)``, when given, is called after
    every step; an exception it raises ends the fit.  Returns the number of
    steps run.
    """
    want_shift = stopping.tol > 0.0
    step = 0
    for step in range(1, n_steps + 1):
        batch = batches.next()
        inertia, shift = minibatch_step(batch, state, dtype,
                                        reassignment_ratio=reassignment_ratio,
                                        random_state=random_state,
                                        want_shift=want_shift, verbose=verbose)
        if callback is not None:
            callback(step, inertia, shift)
        if stopping.update(step, n_steps, inertia / batch.total_weight, shift):
            break
    return step
