"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every file ``ocrlib`` writes (models, stroke sets, taught drawings) goes through ``atomic_write``: the bytes
go to a temporary file beside the target, are flushed to disk, and the temporary file is then renamed over
the target. A crash, a kill or a full disk mid-write leaves the previous file as it was.

A write that is killed outright (SIGKILL, power loss) cannot remove its temporary file; the next write to the
same target does. A writer holds a lock on its temporary file while it writes, so only temporaries nobody
holds, older than ``STALE_SECONDS``, are removed.
"""

import glob
import os
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:                     # Windows: no advisory locks; the age of a temporary file decides alone
    fcntl = None

STALE_SECONDS = 60      # a temporary file untouched this long, and unlocked, was left by a killed write


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until the file is closed, or its writer dies
    try:
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else _default_mode())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _default_mode():
    """The permissions a plain ``open(path, "w")`` would give (mkstemp's own are owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def remove_stale_temporaries(path):
    """Remove the temporary files that killed writes to ``path`` left behind (unlocked and old)."""
    path = Path(path)
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime < STALE_SECONDS:
                continue
            fd = os.open(tmp, os.O_RDONLY)
        except OSError:
            continue                    # gone already, or not ours to read
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)      # fails while a writer holds it
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        finally:
            os.close(fd)
