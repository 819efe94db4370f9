"""Where the data sits and its units: a shift and a power-of-two scale under
which the k-means kernels keep their precision and never overflow.

The nearest-centre kernels compare ``||c||^2 - 2 x.c`` (the gemm expansion of
``||x - c||^2``).  On data far from the origin the terms cancel: float32 data
offset by 1e6 loses every digit of a unit distance, float64 data offset by
1e13 most of them.  Squares overflow where the values do not (float32 data
around 1e20), and vanish into subnormals on tiny data.  k-means does not care
where the data sits or what its units are, so a fit runs on

    Xt = (X - shift) / scale

with ``shift`` the weighted mean of the data (rounded to X's dtype) and
``scale`` a power of two (so dividing by it is exact), and maps the centres
back.  The transform is applied only when it matters (``needs_*`` below):
on data centred and scaled well enough it costs nothing.  When it is applied,
the transformed data is a new array (one pass over X), or X itself, changed
in place and restored afterwards, with ``copy_x=False``.

Sparse input is never centred (centring would densify it): its limits are in
the ``KMeans`` docstring.
"""
from dataclasses import dataclass

import numpy as np

from ._validation import check_finite

# Centre when the squared distance of the data's mean from the origin exceeds
# this multiple of the data's total variance: the expansion then loses more
# than a bit or two of a typical distance.
CENTRE_RATIO = 1.0

# Rows per block of the float64 temporaries.
BLOCK_ROWS = 4096

# Squared norms above 2**MAX_SQ_EXP[dtype] are too close to overflowing (an
# inner product over the features, then a difference, must stay finite);
# per-feature variances below 2**MIN_VAR_EXP[dtype] leave squared distances
# among the subnormals, or too near them to keep the dtype's precision.
MAX_SQ_EXP = {np.dtype(np.float32): 120, np.dtype(np.float64): 1000}
MIN_VAR_EXP = {np.dtype(np.float32): -80, np.dtype(np.float64): -900}


def power_of_two_at_least(value):
    """The smallest power of two >= ``value`` (> 0), as a float."""
    mantissa, exponent = np.frexp(value)
    return float(np.ldexp(1.0, int(exponent) - (1 if mantissa == 0.5 else 0)))


@dataclass(frozen=True)
class Conditioning:
    """``Xt = (X - shift) / scale``; ``shift`` None means no shift."""

    shift: np.ndarray | None = None
    scale: float = 1.0

    @property
    def identity(self):
        return self.shift is None and self.scale == 1.0

    def to_model(self, points):
        """Points (centres, an init) in the transformed coordinates, float64."""
        out = np.array(points, dtype=np.float64)
        if self.shift is not None:
            out -= self.shift
        out /= self.scale
        return out

    def from_model(self, points, dtype):
        """Transformed points back in the data's coordinates, in ``dtype``."""
        out = np.array(points, dtype=np.float64)
        out *= self.scale
        if self.shift is not None:
            out += self.shift
        return out.astype(dtype, copy=False)

    def squared_factor(self):
        """What a squared distance in transformed units is worth in data units."""
        return self.scale * self.scale

    def transform_block(self, block, dtype, *, out=None, work=None):
        """One block of rows, transformed, in ``dtype``: a new array, or
        ``out``.  ``work``, a float64 array of the block's shape (``out``
        itself may be it), saves allocating the one the arithmetic runs in.
        The values do not depend on how the rows are cut into blocks."""
        if self.shift is not None:
            # x - shift in float64: the same as block.astype(float64) - shift,
            # in one pass over the block.
            work = np.subtract(block, self.shift, out=work, dtype=np.float64,
                               casting="unsafe")
        elif work is None:
            work = block.astype(np.float64)
        elif work is not block:
            np.copyto(work, block, casting="unsafe")
        if self.scale != 1.0:
            work *= 1.0 / self.scale
        if out is None:
            return work.astype(dtype, copy=False)
        if out is not work:
            np.copyto(out, work, casting="unsafe")     # the rounding of astype
        return out

    def apply(self, X, *, in_place=False):
        """The transformed data: a new array, or X itself when ``in_place``."""
        if self.identity:
            return X
        out = X if in_place else np.empty(X.shape, dtype=X.dtype)
        for start in range(0, X.shape[0], BLOCK_ROWS):
            sl = slice(start, start + BLOCK_ROWS)
            out[sl] = self.transform_block(X[sl], X.dtype)
        return out

    def restore(self, Xt):
        """Undo ``apply(X, in_place=True)`` (exact where the shift was)."""
        for start in range(0, Xt.shape[0], BLOCK_ROWS):
            sl = slice(start, start + BLOCK_ROWS)
            Xt[sl] = self.from_model(Xt[sl], Xt.dtype)


@dataclass(frozen=True)
class Moments:
    """Weighted statistics of X about its mean, safe from overflow.

    ``variance`` is the mean over features of the weighted variance, in
    units of ``unit**2`` (a power of two chosen so that no square overflows
    on the way); ``spread`` is the largest distance of a coordinate from the
    mean's, ``reach`` the largest absolute coordinate.
    """

    mean: np.ndarray
    variance: float
    unit: float
    spread: float
    reach: float



# Values per block of the one-pass moments: the block's float64 temporary (2 MiB)
# stays within a core's L2 cache, and few blocks keep the Python overhead low.
MOMENT_BLOCK_VALUES = 1 << 18


def sums_about(X, sample_weight, origin):
    """(total weight, weighted sums of ``X - origin`` and of its squares per
    feature, smallest and largest of ``X - origin``), in float64, a block of
    rows small enough to stay in cache at a time."""
    n_samples, n_features = X.shape
    w = sample_weight.astype(np.float64, copy=False)
    sum1 = np.zeros(n_features)
    sum2 = np.zeros(n_features)
    lo, hi = np.inf, -np.inf
    rows = max(1, MOMENT_BLOCK_VALUES // n_features)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for start in range(0, n_samples, rows):
            sl = slice(start, start + rows)
            d = X[sl].astype(np.float64)
            d -= origin
            lo = min(lo, float(d.min()))
            hi = max(hi, float(d.max()))
            sum1 += w[sl] @ d
            d *= d
            sum2 += w[sl] @ d
    return float(w.sum()), sum1, sum2, lo, hi


def weighted_moments(X, sample_weight):
    """Weighted mean, variance and extent of the rows of X.

    One pass in float64 about one of its rows (so the differences keep their
    digits however far the data sits from the origin), a block of rows small
    enough to stay in cache at a time: as exact as a conditioning decision, a
    shift and a tolerance need.  Data whose squares overflow or vanish in
    that dtype takes ``careful_moments`` instead (two passes in float64, in
    units of a power of two).  X holding NaN or infinity raises the
    ``ValueError`` of ``_validation.check_finite``: this pass is a fit's
    check of its data's values.  The extent (``spread``, ``reach``) is an upper
    bound within a factor of two.
    """
    n_samples, n_features = X.shape
    if n_samples == 0:
        return careful_moments(X, sample_weight)
    dtype = X.dtype
    origin = X[0].astype(np.float64)
    total, sum1, sum2, lo, hi = sums_about(X, sample_weight, origin)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        offset = sum1 / total
        variance = float(np.mean(sum2 / total - offset * offset))
    mean = origin + offset
    if not (np.isfinite(variance) and np.all(np.isfinite(mean))):
        check_finite(X, "X")       # NaN or infinity in X: a ValueError
        return careful_moments(X, sample_weight)
    variance = max(variance, 0.0)
    off = float(np.max(np.abs(offset)))
    spread = max(hi, -lo) + off
    reach = float(np.max(np.abs(origin))) + max(hi, -lo)
    if (_too_small(variance, 1.0, dtype) or (variance == 0 and spread > 0)
            or _too_large(_log2_sq(reach), n_features, dtype)):
        # Squares that vanish or overflow in this dtype: in float64, in units.
        return careful_moments(X, sample_weight)
    unit = power_of_two_at_least(spread) if spread > 0 else 1.0
    return Moments(mean=mean, variance=variance / (unit * unit), unit=unit,
                   spread=spread, reach=reach)


def _centred(moments):
    """Whether ``for_data`` centres data with these moments."""
    d = moments.mean.shape[0]
    with np.errstate(over="ignore", under="ignore"):
        offset = float(np.sum((moments.mean / moments.unit) ** 2))
    return offset > CENTRE_RATIO * moments.variance * d


def careful_moments(X, sample_weight):
    """Weighted mean, variance and extent of the rows of X (two passes in
    float64), safe from overflow whatever the values."""
    n_samples, n_features = X.shape
    w = sample_weight.astype(np.float64, copy=False)
    total = float(w.sum())
    lo = np.full(n_features, np.inf)
    hi = np.full(n_features, -np.inf)
    acc = np.zeros(n_features)
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, n_samples, BLOCK_ROWS):
            sl = slice(start, start + BLOCK_ROWS)
            block = X[sl]
            np.minimum(lo, block.min(axis=0), out=lo)
            np.maximum(hi, block.max(axis=0), out=hi)
            acc += w[sl] @ block.astype(np.float64, copy=False)
        mean = acc / total
    reach = float(max(np.abs(lo).max(), np.abs(hi).max()))
    unit = power_of_two_at_least(reach) if reach > 0 else 1.0
    if not np.all(np.isfinite(mean)):
        # Values near the float64 limit: add them up in units of ``unit``.
        acc[:] = 0.0
        for start in range(0, n_samples, BLOCK_ROWS):
            sl = slice(start, start + BLOCK_ROWS)
            acc += w[sl] @ (X[sl].astype(np.float64) / unit)
        mean = acc / total * unit
    # A weighted mean lies within the data's range; rounding may not.
    mean = np.clip(mean, lo, hi)
    spread = float(np.max(np.maximum(hi - mean, mean - lo)))
    unit = power_of_two_at_least(spread) if spread > 0 else 1.0
    var = np.zeros(n_features)
    for start in range(0, n_samples, BLOCK_ROWS):
        sl = slice(start, start + BLOCK_ROWS)
        diff = X[sl].astype(np.float64) - mean
        diff /= unit
        var += w[sl] @ (diff * diff)
    return Moments(mean=mean, variance=float(np.mean(var / total)), unit=unit,
                   spread=spread, reach=reach)


def _too_small(variance, unit, dtype):
    """Whether a per-feature variance (in units of unit**2) is too close to
    the dtype's subnormals."""
    if variance <= 0:
        return False
    return np.log2(variance) + 2 * np.log2(unit) < MIN_VAR_EXP[np.dtype(dtype)]


def _too_large(sq_reach, n_features, dtype):
    """Whether squared norms of coordinates up to ``sq_reach`` (given as a
    log2) come too close to overflowing."""
    return sq_reach + np.log2(n_features) > MAX_SQ_EXP[np.dtype(dtype)]


def _log2_sq(value):
    return 2 * np.log2(value) if value > 0 else -np.inf


def for_data(moments, dtype):
    """The conditioning a fit on data with these moments needs."""
    dtype = np.dtype(dtype)
    d = moments.mean.shape[0]
    mean = moments.mean
    unit = moments.unit
    centre = _centred(moments)
    reach = moments.spread if centre else moments.reach
    scale_needed = (_too_large(_log2_sq(reach), d, dtype)
                    or _too_small(moments.variance, unit, dtype))
    if not (centre or scale_needed):
        return Conditioning()
    shift = mean.astype(dtype).astype(np.float64)
    scale = 1.0
    if scale_needed:
        spread = moments.spread
        scale = power_of_two_at_least(spread) if spread > 0 else 1.0
        if _too_small(moments.variance * (unit / scale) ** 2, 1.0, dtype):
            raise ValueError(
                f"X ({dtype}) spans too wide a range of magnitudes: its largest "
                f"distance from the mean ({moments.spread:.3g}) and its typical "
                "spread cannot both be represented, squared, in this dtype; pass "
                "X.astype(numpy.float64), or remove the outlying rows.")
    return Conditioning(shift=shift, scale=scale)


def for_centers(centers, dtype):
    """The conditioning for assigning data to fitted ``centers``.

    The centres stand for the data they were fitted on: shifted to their mean
    when it lies far from the origin compared with their spread, scaled when
    their coordinates would overflow or vanish when squared.
    """
    dtype = np.dtype(dtype)
    C = np.asarray(centers, dtype=np.float64)
    w = np.ones(C.shape[0])
    return for_data(weighted_moments(C, w), dtype)


def distances(X, centers):
    """Euclidean distances (n_samples, n_clusters) from the rows of dense X to
    ``centers``, in X's dtype."""
    # In float64, about the centres' mean and in the centres' units, so
    # that neither the offset of the data nor its scale costs precision.
    cond = for_centers(centers, np.float64)
    C = centers.astype(np.float64)
    shift = cond.shift if cond.shift is not None else C.mean(axis=0)
    cond = Conditioning(shift=shift, scale=cond.scale)
    C = cond.to_model(C)
    c_sqnorms = np.einsum("ij,ij->i", C, C)
    out = np.empty((X.shape[0], C.shape[0]), dtype=X.dtype)
    # The expansion's rounding error is at most about (d + 2) eps
    # (||x||^2 + ||c||^2); entries within a few times that of zero are
    # computed again from the differences, so that a row at (or next to)
    # a centre gets its distance, not the expansion's rounding.
    slack = 8 * (C.shape[1] + 2) * np.finfo(np.float64).eps
    for start in range(0, X.shape[0], BLOCK_ROWS):
        block = cond.transform_block(X[start:start + BLOCK_ROWS], np.float64)
        x_sqnorms = np.einsum("ij,ij->i", block, block)
        d = block @ C.T
        d *= -2.0
        d += x_sqnorms[:, None]
        d += c_sqnorms
        rows, cols = np.nonzero(d <= slack * (x_sqnorms[:, None] + c_sqnorms))
        if rows.size:
            diff = block[rows] - C[cols]
            d[rows, cols] = np.einsum("ij,ij->i", diff, diff)
        np.maximum(d, 0.0, out=d)
        np.sqrt(d, out=d)
        d *= cond.scale
        out[start:start + BLOCK_ROWS] = d
    return out
