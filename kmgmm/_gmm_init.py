"""Initial parameters of a Gaussian mixture: seeds from a clustering (or
none, for random responsibilities), the statistics of the responsibilities
they give from the engine, then weights, means and covariances from them."""
from ._gaussian import m_step
from ._kmeans import KMeans


def initial_seeds(engine, n_components, *, init_params, random_state, n_threads,
                  means_init=None, callback=None):
    """(seeds, labels) the initial responsibilities come from: the partition
    by the nearest seed (``labels`` when already known), or random soft
    responsibilities when ``seeds`` is None (``engine.mixture_moments``).

    ``callback(n_iter, inertia, shift)`` is called after every iteration of
    the initialising k-means (``init_params="kmeans"``)."""
    labels = None
    if means_init is not None:
        seeds = means_init
    elif init_params == "kmeans":
        km = KMeans(n_components, n_init=1, random_state=random_state,
                    n_threads=n_threads)._fit_engine(engine, quiet=True,
                                                     iteration_callback=callback)
        seeds = km.cluster_centers_
        if engine.keeps_labels:
            labels = km.labels_
    elif init_params in ("k-means++", "random_from_data"):
        seeds = engine.seed("k-means++" if init_params == "k-means++" else "random",
                            n_components, random_state)
    else:
        seeds = None
    return seeds, labels


def initial_parameters(engine, n_components, *, init_params, means_init, covariance_type,
                       reg_covar, variance, random_state, n_threads, shift,
                       callback=None):
    """(weights, means, covariances) to start EM from, all float64 (see
    ``initial_seeds`` for ``callback``)."""
    seeds, labels = initial_seeds(engine, n_components, init_params=init_params,
                                  random_state=random_state, n_threads=n_threads,
                                  means_init=means_init, callback=callback)
    nk, s1, s2, means = engine.mixture_moments(seeds, n_components, covariance_type,
                                               random_state, shift, labels=labels)
    return m_step(nk, s1, s2, means, covariance_type, reg_covar, variance)
