"""Reading CSV / TSV data as pandas reads it: byte-order marks, pandas'
numeric column labels, comments and blank lines before the header."""
import numpy as np
import pytest

from kmgmm._data_files import DataFileError, has_header, load_data

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).rand(300, 4) * 10 - 5


def write(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return path


def frame_csv(X, sep=",", columns=None):
    return pd.DataFrame(X, columns=columns).to_csv(index=False, sep=sep)


@pytest.mark.parametrize("sep, suffix", [(",", ".csv"), ("\t", ".tsv")])
@pytest.mark.parametrize("case", ["named header with BOM", "pandas numeric header",
                                  "pandas numeric header with BOM",
                                  "comment and blank lines before the header",
                                  "integral floats under numeric header"])
def test_text_data_is_read_as_pandas_reads_it(tmp_path, X, sep, suffix, case):
    path = tmp_path / ("data" + suffix)
    kwargs = {"sep": sep}
    if case == "named header with BOM":
        write(path, frame_csv(X, sep, list("abcd")), encoding="utf-8-sig")
    elif case == "pandas numeric header":
        write(path, frame_csv(X, sep))
    elif case == "pandas numeric header with BOM":
        write(path, frame_csv(X, sep), encoding="utf-8-sig")
    elif case == "comment and blank lines before the header":
        write(path, "# exported by a tool\n\n   \n# columns follow\n"
              + frame_csv(X, sep, list("abcd")))
        kwargs["comment"] = "#"
    else:
        write(path, frame_csv(np.round(X), sep))  # 3.0, -2.0, ...: still floats
    expected = pd.read_csv(path, **kwargs).to_numpy()
    got = load_data(path)
    assert got.shape == expected.shape == (300, 4)
    np.testing.assert_array_equal(got, expected)


def test_headerless_file_with_bom_keeps_its_first_row(tmp_path, X):
    path = write(tmp_path / "x.csv", frame_csv(X).split("\n", 1)[1],
                 encoding="utf-8-sig")
    expected = pd.read_csv(path, header=None).to_numpy()
    np.testing.assert_array_equal(load_data(path), expected)
    assert load_data(path).shape == (300, 4)


@pytest.mark.parametrize("text, header, rows", [
    ("0,1,2\n0.5,1.5,2.5\n", True, 1),        # pandas labels over float data
    ("0,1,2\n1e-3,2,3\n", True, 1),
    ("0,1,2\nnan,2,3\n", True, 1),
    ("0,1,2\n3,4,5\n", False, 2),              # integer data: the first row is data
    ("0,1,2\n", False, 1),                     # one line: data
    ("0,2,1\n0.5,1.5,2.5\n", False, 2),        # not 0..d-1 in order
    ("0.0,1.0,2.0\n0.5,1.5,2.5\n", False, 2),  # floats, not labels
    ("1,2,3\n0.5,1.5,2.5\n", False, 2),        # not starting at 0
    ("0\n0.5\n1.5\n", True, 2),                # one column
    ("0\n5\n7\n", False, 3),
    ('"0","1"\n0.5,1.5\n', True, 1),          # quoted labels
    ("\n\n# c\n0,1\n\n0.5,1\n", True, 1),
    ("x,y\n1,2\n", True, 1),
])
def test_header_rule(tmp_path, text, header, rows):
    path = write(tmp_path / "d.csv", text)
    assert has_header(path, ",") is header
    assert load_data(path).shape[0] == rows


def test_comments_between_rows_and_trailing_comments(tmp_path):
    path = write(tmp_path / "d.csv", "a,b\n1,2\n# note\n3,4 # trailing\n\n5,6\n")
    np.testing.assert_array_equal(load_data(path), [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(load_data(path),
                                  pd.read_csv(path, comment="#").to_numpy())


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "\ufeff",
                                  "\ufeff# c\n\n"])
def test_files_without_data_are_refused(tmp_path, text):
    path = write(tmp_path / "empty.csv", text)
    with pytest.raises(DataFileError, match="empty.csv.*no data"):
        load_data(path)


def test_bad_values_name_the_file(tmp_path):
    path = write(tmp_path / "bad.csv", "\ufeffa,b\n1,2\n3,oops\n")
    with pytest.raises(DataFileError, match="bad.csv.*oops"):
        load_data(path)
    path = write(tmp_path / "bad2.csv", "1,2\n3\n")
    with pytest.raises(DataFileError, match="bad2.csv"):
        load_data(path)
    path = tmp_path / "latin1.csv"
    path.write_bytes("a\xe9,b\n1,2\n".encode("latin-1"))
    with pytest.raises(DataFileError, match="latin1.csv.*UTF-8"):
        load_data(path)
