"""``kmgmm select``: Gaussian mixtures over a range of k and covariance types
(``MixtureSelection``); prints the table of criteria, draws the criterion
against k (one line per covariance type) and writes the best model."""
import time
import warnings

import numpy as np

from ._atomic_write import AtomicFile, OutputPathError
from ._cli_common import (
    _check_distinct,
    _emit,
    _load_sample_weight,
    _warnings_to_stderr,
    _write_failed,
    _write_fit_outputs,
)
from ._data_files import check_output_path, load_data
from ._exceptions import UsageError
from ._progress import StopRequest
from ._selection import MixtureSelection

EXIT_OK = 0
LINE_STYLES = {"full": ("o", "-"), "tied": ("s", "--"), "diag": ("^", "-."),
               "spherical": ("D", ":")}


def _need_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("select: --plot needs matplotlib; install it with "
                         "pip install 'kmgmm[plot]'") from None


def table_lines(results, criterion, best):
    """The results as aligned text, the best row marked with '*'."""
    head = (f"  {'k':>3}  {'covariance':<10} {'bic':>14} {'icl':>14} {'aic':>14} "
            f"{'log-lik/row':>12} {'iter':>5} {'conv':>5} {'seconds':>8}")
    lines = [head]
    for i in range(len(results["n_components"])):
        mark = "*" if i == best else " "
        k, t = results["n_components"][i], results["covariance_type"][i]
        if not np.isfinite(results[criterion][i]):
            lines.append(f"{mark} {k:>3}  {t:<10} failed: {results['message'][i]}")
            continue
        lines.append(
            f"{mark} {k:>3}  {t:<10} {results['bic'][i]:>14.6g} {results['icl'][i]:>14.6g} "
            f"{results['aic'][i]:>14.6g} {results['log_likelihood'][i]:>12.6g} "
            f"{results['n_iter'][i]:>5d} {'yes' if results['converged'][i] else 'no':>5} "
            f"{results['fit_time'][i]:>8.3f}")
    return lines


def draw(path, results, criterion, best, title):
    """The criterion against k, one line per covariance type, the best circled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    ks = results["n_components"]
    for t in dict.fromkeys(results["covariance_type"]):
        rows = (results["covariance_type"] == t) & np.isfinite(results[criterion])
        marker, style = LINE_STYLES.get(t, ("o", "-"))
        ax.plot(ks[rows], results[criterion][rows], marker=marker, linestyle=style,
                markersize=5, label=t)
    ax.plot(ks[best], results[criterion][best], "o", markersize=14, markerfacecolor="none",
            markeredgecolor="black", label=f"best: k={ks[best]}, "
            f"{results['covariance_type'][best]}")
    ax.set_xlabel("number of components k")
    ax.set_ylabel(f"{criterion.upper()} (lower is better)")
    ax.set_xticks(np.unique(ks))
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        with AtomicFile(path, what="plot") as out:
            fig.savefig(out.fh, format="png")
            out.commit()
    except OutputPathError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise _write_failed(exc) from None
    finally:
        plt.close(fig)


def cmd_select(args):
    _check_distinct("select", [("the data", args.data),
                               ("the sample weights", args.sample_weight)],
                    [("the model (-o)", args.output), ("the plot (--plot)", args.plot)])
    if args.output is not None:
        check_output_path(args.output, what="model")
    if args.plot is not None:
        check_output_path(args.plot, what="plot")
        _need_matplotlib()
    X = load_data(args.data)
    n_samples, n_features = X.shape
    sample_weight = None
    if args.sample_weight is not None:
        sample_weight = _load_sample_weight(args.sample_weight, n_samples)
    params = {"n_components": args.k, "covariance_types": tuple(args.covariance_types),
              "criterion": args.criterion, "random_state": args.seed,
              "n_threads": args.threads}
    for option in ("max_iter", "tol", "n_init"):
        if getattr(args, option) is not None:
            params[option] = getattr(args, option)
    selection = MixtureSelection(**params)
    with StopRequest() as stop:
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                selection.fit(X, sample_weight=sample_weight)
            except (ValueError, TypeError) as exc:
                raise UsageError(f"select: {args.data}: {exc}") from None
        seconds = time.perf_counter() - start
        stop.check("the end of the fits")
        _warnings_to_stderr(caught)
        results, best = selection.results_, selection.best_index_
        if args.plot is not None:
            draw(args.plot, results, args.criterion, best,
                 f"{args.data}: {n_samples} x {n_features}")
        if args.output is not None:
            _write_fit_outputs(selection.best_estimator_, args.output, None, None)

    bp = selection.best_params_
    summary = {
        "command": "select",
        "n_samples": n_samples, "n_features": n_features, "dtype": str(X.dtype),
        "criterion": args.criterion,
        "best": {**bp, args.criterion: float(results[args.criterion][best])},
        "results": {key: value.tolist() for key, value in results.items()},
        "seconds": seconds,
        "plot_file": args.plot,
        "model_file": args.output,
    }
    title = (f"Gaussian mixtures on {n_samples} x {n_features} {X.dtype} from "
             f"{args.data}, by {args.criterion.upper()} (lower is better):")
    verdict = (f"best: k={bp['n_components']}, covariance_type={bp['covariance_type']} "
               f"({len(results['bic'])} fits in {seconds:.2f} s)")
    lines = [title, *table_lines(results, args.criterion, best), verdict]
    if args.plot is not None:
        lines.append(f"  plot written to {args.plot}")
    if args.output is not None:
        lines.append(f"  model written to {args.output}")
    _emit(summary, args.json, lines)
    return EXIT_OK
