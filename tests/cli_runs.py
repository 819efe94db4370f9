"""Running the command line in a child process: the environment that makes
it import the kmgmm under test, and the tests that send it Ctrl-C (a real
SIGINT) while it works."""
import os
import signal
import subprocess
import sys
import tempfile
import time

import kmgmm


def package_env(**extra):
    """The environment for a subprocess that must import the kmgmm these
    tests imported (a worktree's in-place build, or the installed package)
    whatever else is installed: its parent directory first on PYTHONPATH.
    Run such a subprocess from a directory without a kmgmm/ source tree."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(kmgmm.__file__)))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


def run_kmgmm(*args, cwd=None, timeout=600, **kw):
    """``python -m kmgmm ARGS`` on one OpenMP thread, from ``cwd`` (default:
    the temporary directory, which holds no kmgmm/ source tree: ``python -m``
    puts the working directory first on sys.path)."""
    return subprocess.run([sys.executable, "-m", "kmgmm", *map(str, args)],
                          capture_output=True, text=True, check=False,
                          env=package_env(OMP_NUM_THREADS="1"),
                          cwd=cwd or tempfile.gettempdir(), timeout=timeout, **kw)


def interrupt_when(args, until, *, env, cwd, timeout=240, delay=0.0):
    """Start ``python -m kmgmm ARGS``; read its standard error line by line
    until ``until(text so far)`` holds (at most ``timeout`` seconds); wait
    ``delay`` seconds; send SIGINT.  Returns (returncode, stdout, all of
    standard error)."""
    proc = subprocess.Popen([sys.executable, "-m", "kmgmm", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=cwd)
    seen = ""
    try:
        deadline = time.monotonic() + timeout
        while not until(seen):
            line = proc.stderr.readline()
            assert line and time.monotonic() < deadline, seen
            seen += line
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, seen + err
