"""Running the command line in a child process, for the tests that send it
Ctrl-C (a real SIGINT) while it works."""
import signal
import subprocess
import sys
import time


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
