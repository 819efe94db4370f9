"""The ``kmgmm`` command's arguments: the parser, its option types and help."""
import argparse

import numpy as np

from ._covariance import COVARIANCE_TYPES
from ._exceptions import UsageError
from ._selection import SELECTION_TYPES


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        where = self.prog[len("kmgmm"):].strip()
        prefix = f"{where}: " if where else ""
        raise UsageError(f"{prefix}{message} (see '{self.prog} --help')")


def _checked(convert, noun, valid, requirement):
    """An argparse ``type``: ``convert`` the text, then check it is ``valid``."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"{value} {requirement}")
        return value
    return parse


_positive_int = _checked(int, "an integer", lambda v: v >= 1, "must be at least 1")
_seed = _checked(int, "an integer", lambda v: 0 <= v < 2**32, "is not in [0, 2**32)")
_positive_float = _checked(float, "a number", lambda v: np.isfinite(v) and v > 0,
                           "must be a finite number > 0")
_learning_decay = _checked(float, "a number", lambda v: 0.5 < v <= 1,
                           "must be in (0.5, 1]")


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (np.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number >= 0")
    return value


def _k_range(text):
    """'1-10', '2,4,8' or '1-3,8': the distinct counts, sorted."""
    ks = set()
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            lo = int(lo)
            hi = int(hi) if dash else lo
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a range of k like 1-10 or a list like 2,4,8") from None
        if lo < 1 or hi < lo:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r}: k must be at least 1, ranges written low-high")
        ks.update(range(lo, hi + 1))
    return sorted(ks)


def _covariance_types(text):
    types = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in types if t not in SELECTION_TYPES]
    if bad or not types:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give comma-separated types of {','.join(SELECTION_TYPES)}")
    return list(dict.fromkeys(types))


def _add_common(parser, *, json_help="print the result as JSON on stdout"):
    parser.add_argument("--json", action="store_true", help=json_help)
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line on stderr")
    parser.add_argument("--threads", type=_positive_int, metavar="N",
                        help="OpenMP threads (default: every core allowed)")


def _columns(text):
    """--columns: comma-separated names or 0-based indices."""
    items = [item.strip() for item in text.split(",")]
    if not items or any(not item for item in items):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of column names or indices")
    return items


def _delimiter(text):
    """--delimiter: one character; 'tab' or '\\t' for a tab."""
    if text in ("tab", "\\t"):
        return "\t"
    if len(text) != 1 or text in '"#\n\r':
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a one-character delimiter (use 'tab' for a tab)")
    return text


def _add_data_options(parser):
    parser.add_argument("--columns", type=_columns, metavar="A,B,...",
                        help="the columns to use, by name (a header's or a Parquet/"
                             "Feather file's) or 0-based index (default: all)")
    parser.add_argument("--delimiter", type=_delimiter, metavar="C",
                        help="field separator of text data (default: ',' for .csv "
                             "and standard input, tab for .tsv; 'tab' for a tab)")
    parser.add_argument("--dtype", choices=("float32", "float64"),
                        help="convert the data to this dtype (default: the file's: "
                             "float64 for text, the stored dtype otherwise)")


DATA_HELP = (".npy, .npz (one array), .csv or .tsv (also .gz, .bz2 or .xz "
             "compressed), .parquet or .feather (needs pyarrow), or - for CSV on "
             "standard input")

# The estimators' defaults, as --help shows them (a test checks they agree).
KMEANS_DEFAULTS = {"algorithm": "auto", "init": "k-means++", "max_iter": 300,
                   "tol": 1e-4, "n_init": "auto"}
GMM_DEFAULTS = {"init_params": "kmeans", "max_iter": 100, "tol": 1e-3, "n_init": 1,
                "reg_covar": 1e-6, "covariance_type": "full", "assignment": "soft",
                "learning_decay": 0.6, "learning_offset": 0.0}
DEFAULT_SEED = 0

CSV_HELP = """\
CSV and TSV data: lines that are blank or start with '#' are skipped, and a
UTF-8 byte-order mark is ignored. The first line is a header when one of its
fields is not a number, or when it reads exactly 0,1,...,d-1 (the column
labels pandas' DataFrame.to_csv writes) and the line after it holds a value
that is not an integer (e.g. 1.5, 2.0, 1e-3, nan). Integer data whose first
row is 0,1,...,d-1 is read as data: give such files a header of names.

Outputs (-o, --labels) are written beside the target and renamed into place,
so a failed write leaves nothing behind; an output may not be an input or
another output, and must be a regular file or a new name (not a link, a
device, a FIFO or a file with other hard links).
"""


def build_parser():
    from . import __version__

    parser = _Parser(
        prog="kmgmm",
        description="Fast k-means and Gaussian-mixture clustering.",
        epilog="Exit status: 0 success, 2 a mistake in the command or its files, "
               "130 stopped by Ctrl-C, 1 an output could not be written (e.g. a "
               "full disk; nothing is left behind) or an internal error.")
    parser.add_argument("--version", action="version", version=f"kmgmm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="fit k-means and every mixture on a known mixture "
                                    "and compare them in one table")
    p.add_argument("--n-samples", type=_positive_int, default=1_000_000, metavar="N",
                   help="rows to draw (default 1000000)")
    p.add_argument("--seed", type=_seed, default=0, help="seed for the data and the fits")
    p.add_argument("--max-iter", type=_positive_int, default=None, metavar="N",
                   help="iteration cap per fit (default: the demo's own)")
    p.add_argument("--plot", metavar="FILE.png",
                   help="draw the data, k-means regions and mixture ellipses "
                        "(needs matplotlib)")
    _add_common(p)

    p = sub.add_parser(
        "fit", help="fit a model to a data file and save it",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=CSV_HELP)
    p.add_argument("data", metavar="DATA", help=DATA_HELP)
    p.add_argument("-k", type=_positive_int, required=True, metavar="K",
                   help="number of clusters / components")
    p.add_argument("--model", choices=("kmeans", "gmm"), default="kmeans",
                   help="k-means or a Gaussian mixture (default kmeans)")
    p.add_argument("--algorithm", choices=("auto", "lloyd", "hamerly", "elkan"),
                   help=f"kmeans only (default {KMEANS_DEFAULTS['algorithm']})")
    p.add_argument("--init", metavar="METHOD",
                   help="initialisation: kmeans k-means++ or random (default "
                        f"{KMEANS_DEFAULTS['init']}); gmm kmeans, k-means++, random "
                        f"or random_from_data (default {GMM_DEFAULTS['init_params']})")
    p.add_argument("--covariance-type", choices=COVARIANCE_TYPES,
                   help=f"gmm only (default {GMM_DEFAULTS['covariance_type']})")
    p.add_argument("--assignment", choices=("soft", "hard"),
                   help="gmm only: soft EM or hard (classification) EM (default "
                        f"{GMM_DEFAULTS['assignment']})")
    p.add_argument("--variance", type=_positive_float, metavar="V",
                   help="the shared variance of --covariance-type fixed")
    p.add_argument("--reg-covar", type=_non_negative_float, metavar="R",
                   help="gmm only: added to every covariance's diagonal (default "
                        f"{GMM_DEFAULTS['reg_covar']:g})")
    p.add_argument("--sample-weight", metavar="FILE", help="one weight per row")
    p.add_argument("--seed", type=_seed, default=DEFAULT_SEED,
                   help=f"random seed (default {DEFAULT_SEED}: two runs of the same "
                        "command give the same model; it is printed and stored)")
    p.add_argument("--max-iter", type=_positive_int, metavar="N",
                   help=f"iterations per initialisation (default "
                        f"{KMEANS_DEFAULTS['max_iter']} for kmeans, "
                        f"{GMM_DEFAULTS['max_iter']} for gmm)")
    p.add_argument("--tol", type=_non_negative_float, metavar="TOL",
                   help=f"convergence tolerance (default {KMEANS_DEFAULTS['tol']:g} "
                        "of the mean variance for kmeans, "
                        f"{GMM_DEFAULTS['tol']:g} of the log-likelihood for gmm)")
    p.add_argument("--n-init", type=_positive_int, metavar="N",
                   help="initialisations; the best is kept (default "
                        f"{KMEANS_DEFAULTS['n_init']} for kmeans: 1, or 10 with "
                        f"--init random; {GMM_DEFAULTS['n_init']} for gmm)")
    _add_data_options(p)
    p.add_argument("--mini-batch", action="store_true",
                   help="fit from mini-batches, reading the data a block of rows at a "
                        "time, so a .npy file of any size: MiniBatchKMeans for kmeans, "
                        "online EM (GaussianMixture.partial_fit) for gmm, which first "
                        "initialises on about max(batch size, 3 k) rows drawn at "
                        "random from the whole file (--init, by default k-means on "
                        "them, --n-init times; --seed makes it reproducible)")
    p.add_argument("--batch-size", type=_positive_int, metavar="N",
                   help="--mini-batch: rows per batch (default 4096)")
    p.add_argument("--passes", type=_positive_int, metavar="P",
                   help="--mini-batch: passes over the data (default 1)")
    p.add_argument("--learning-decay", type=_learning_decay, metavar="KAPPA",
                   help="--mini-batch gmm: online EM's step size (t + t0)^-kappa "
                        f"falls with kappa in (0.5, 1] (default "
                        f"{GMM_DEFAULTS['learning_decay']})")
    p.add_argument("--resume", metavar="MODEL.npz",
                   help="--mini-batch gmm: continue the online EM of a GaussianMixture "
                        "model file (its parameters, and its averaged statistics when "
                        "the file keeps them) with --passes more passes over DATA; -k "
                        "must be its number of components, and its options are its "
                        "own (-o may name the same file)")
    p.add_argument("--learning-offset", type=_non_negative_float, metavar="T0",
                   help="--mini-batch gmm: t0 >= 0 damps the first steps (default "
                        f"{GMM_DEFAULTS['learning_offset']:g})")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.npz",
                   help="where to write the model")
    p.add_argument("--labels", metavar="OUT", help="write the training labels "
                                                   "(.npy, .csv or .tsv)")
    _add_common(p)

    p = sub.add_parser(
        "select", help="fit Gaussian mixtures over a range of k and covariance types "
                       "and keep the best by BIC, ICL or AIC",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=CSV_HELP)
    p.add_argument("data", metavar="DATA", help=".npy, .npz (one array), .csv or .tsv")
    p.add_argument("-k", type=_k_range, default=list(range(1, 10)), metavar="KS",
                   help="numbers of components: a range 1-10, a list 2,4,8 or both "
                        "(default 1-9)")
    p.add_argument("--covariance-types", type=_covariance_types, metavar="TYPES",
                   default=list(SELECTION_TYPES),
                   help="comma-separated, of " + ",".join(SELECTION_TYPES)
                        + " (default all four)")
    p.add_argument("--criterion", choices=("bic", "icl", "aic"), default="bic",
                   help="lower is better; icl = bic + 2 x the entropy of the "
                        "memberships, preferring well separated clusters (default bic)")
    p.add_argument("--sample-weight", metavar="FILE", help="one weight per row")
    p.add_argument("--seed", type=_seed, default=None, help="random seed")
    p.add_argument("--n-init", type=_positive_int, metavar="N",
                   help="seedings per k (default 1)")
    p.add_argument("--max-iter", type=_positive_int, metavar="N")
    p.add_argument("--tol", type=_non_negative_float, metavar="TOL")
    p.add_argument("--plot", metavar="FILE.png",
                   help="draw the criterion against k, a line per covariance type "
                        "(needs matplotlib: pip install 'kmgmm[plot]')")
    p.add_argument("-o", "--output", metavar="MODEL.npz",
                   help="write the best mixture as a model file")
    _add_common(p)

    p = sub.add_parser("predict", help="labels (or probabilities) for a data file",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=CSV_HELP)
    p.add_argument("model", metavar="MODEL.npz")
    p.add_argument("data", metavar="DATA", help=DATA_HELP)
    _add_data_options(p)
    p.add_argument("--proba", action="store_true",
                   help="write the (n_samples, k) membership probabilities (gmm)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help=".npy, .csv or .tsv")
    p.add_argument("--chunk-size", type=_positive_int, metavar="ROWS",
                   help="rows per chunk (default: about 32 MB of data per chunk)")
    _add_common(p)

    p = sub.add_parser("info", help="what a model file holds")
    p.add_argument("model", metavar="MODEL.npz")
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = sub.add_parser("bench", help="time kmgmm against scikit-learn and faiss")
    p.add_argument("--quick", action="store_true",
                   help="small shapes, float32 only (about 8 s of CPU time)")
    p.add_argument("--scale", type=_positive_float, default=1.0, metavar="F",
                   help="multiply every n_samples by F (e.g. 0.01 for a smoke run)")
    _add_common(p, json_help="print the results as JSON on stdout")
    return parser


