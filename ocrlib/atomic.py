"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every file ``ocrlib`` writes (models, stroke sets, taught drawings) goes through ``atomic_write``: the bytes
go to a temporary file beside the target, are flushed to disk, and the temporary file is then renamed over
the target. A crash, a kill or a full disk mid-write leaves the previous file as it was.
"""

import os
import tempfile
from pathlib import Path


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
