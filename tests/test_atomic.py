import os
import signal
import time

import pytest

from ocrlib.atomic import STALE_SECONDS, atomic_write

fcntl = pytest.importorskip("fcntl")


def killed_mid_write(path):
    """A child process that starts ``atomic_write(path, ...)`` and is SIGKILLed halfway through writing."""
    pid = os.fork()
    if pid == 0:
        def write(f):
            f.write(b"half of the new")
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        atomic_write(path, write)
        os._exit(0)                                            # never reached
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def temporaries(folder):
    return sorted(p.name for p in folder.glob(".*.tmp"))


def age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_the_next_write_removes_what_a_killed_write_left(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    killed_mid_write(path)
    assert path.read_bytes() == b"old"
    [left] = temporaries(tmp_path)                             # SIGKILL leaves the temporary file behind ...
    age(tmp_path / left, STALE_SECONDS + 1)
    atomic_write(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new"
    assert temporaries(tmp_path) == []                         # ... and the next write to that file removes it


def test_a_temporary_being_written_or_just_made_is_kept(tmp_path):
    path = tmp_path / "model.npz"
    busy, recent, other = (tmp_path / name for name in (".model.npz.busy.tmp", ".model.npz.new.tmp",
                                                         ".other.npz.old.tmp"))
    for tmp in (busy, recent, other):
        tmp.write_bytes(b"partial")
    age(busy, STALE_SECONDS + 1)
    age(other, STALE_SECONDS + 1)
    with open(busy, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)                       # a live writer holds its temporary file
        atomic_write(path, lambda f: f.write(b"new"))
    assert temporaries(tmp_path) == sorted([busy.name, recent.name, other.name])
