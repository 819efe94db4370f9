"""The covariance types of a Gaussian mixture, declared once.

Each type says how its parameters are shaped (``"k"`` the number of
components, ``"d"`` the number of features), how many free parameters it has
(for BIC and AIC), which second moments the M-step needs, and its code in the
EM kernel (``src/_em.pyx``; a test checks the two agree).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class CovarianceType:
    name: str
    shape_spec: tuple       # of "k" and "d": covariances_, precisions_, ...
    moments: str            # second moments: "full", "tied", "diag" or "none"
    kernel_code: int        # the EM kernel's FULL=0, TIED=1, DIAG=2, NONE=3

    def shape(self, n_components, n_features):
        """Shape of ``covariances_`` (and of the precisions)."""
        size = {"k": n_components, "d": n_features}
        return tuple(size[s] for s in self.shape_spec)

    def n_free(self, n_components, n_features):
        """Free parameters of the covariances."""
        k, d = n_components, n_features
        return {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2,
                "diag": k * d, "spherical": k, "fixed": 0}[self.name]

    def moments_shape(self, n_components, n_features):
        """Shape of the second moments the M-step takes (``m_step``'s ``s2``)."""
        k, d = n_components, n_features
        return {"full": (k, d, d), "tied": (d, d), "diag": (k, d),
                "none": (0,)}[self.moments]

    def kernel_moments_size(self, n_components, n_features):
        """Length of the EM kernel's second moments (full: packed triangles)."""
        k, d = n_components, n_features
        return {"full": k * d * (d + 1) // 2, "tied": d * d, "diag": k * d,
                "none": 0}[self.moments]

    @property
    def has_matrix(self):
        """Whether the covariances are matrices (full, tied)."""
        return self.moments in ("full", "tied")


COVARIANCES = {
    c.name: c for c in (
        CovarianceType("full", ("k", "d", "d"), "full", 0),
        CovarianceType("tied", ("d", "d"), "tied", 1),
        CovarianceType("diag", ("k", "d"), "diag", 2),
        CovarianceType("spherical", ("k",), "diag", 2),
        CovarianceType("fixed", ("k",), "none", 3),
    )
}
COVARIANCE_TYPES = tuple(COVARIANCES)
