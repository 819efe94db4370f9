"""An explicit n_threads is capped: huge values must not crash the OpenMP runtime."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kmgmm import KMeans
from kmgmm._threads import THREAD_CAP, available_cores, effective_n_threads, max_threads


def test_cap_is_the_fixed_cap_or_the_cpu_count():
    assert max_threads() == max(THREAD_CAP, available_cores())
    assert effective_n_threads(3) == 3
    assert effective_n_threads(max_threads()) == max_threads()


@pytest.mark.parametrize("asked", [max_threads() + 1, 100_000])
def test_too_many_threads_are_lowered_with_a_warning(asked):
    with pytest.warns(UserWarning, match=f"n_threads={asked}.*using {max_threads()}"):
        assert effective_n_threads(asked) == max_threads()


@pytest.mark.parametrize("n_threads, address_space_mb", [(100_000, None), (5000, 4000)])
def test_huge_n_threads_fits_and_predicts_in_a_fresh_process(tmp_path, n_threads,
                                                             address_space_mb, package_env):
    # Uncapped, 100000 threads segfault, and 5000 under a 4 GB address-space
    # limit abort inside libgomp; capped, both fit with a warning.
    code = textwrap.dedent(f"""
        import resource, warnings
        import numpy as np
        if {address_space_mb!r} is not None:
            limit = {address_space_mb!r} << 20
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        from kmgmm import KMeans
        X = np.random.RandomState(0).randn(300, 3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            km = KMeans(3, random_state=0, n_init=1, n_threads={n_threads}).fit(X)
            labels = km.predict(X)
        assert any("n_threads={n_threads}" in str(w.message) for w in caught)
        print("labels", labels.tolist())
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=package_env)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    X = np.random.RandomState(0).randn(300, 3)
    expected = KMeans(3, random_state=0, n_init=1, n_threads=1).fit(X).predict(X)
    assert proc.stdout.strip() == "labels " + str(expected.tolist())


def test_command_line_threads_are_capped_with_one_warning_line(tmp_path, capsys):
    from kmgmm._cli import main

    X = np.random.RandomState(0).randn(200, 2)
    np.save(tmp_path / "X.npy", X)
    KMeans(2, random_state=0, n_init=1).fit(X).save(tmp_path / "m.npz")
    status = main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "X.npy"),
                   "-o", str(tmp_path / "out.npy"), "--threads", "100000", "-q"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert err.strip().splitlines() == [
        f"kmgmm: warning: --threads 100000 is more threads than kmgmm starts; "
        f"using {max_threads()}"]
