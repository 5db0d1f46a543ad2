"""Drawings taught on the pad, kept in a SQLite database: one row per drawing, added in a transaction.

Every teach adds one row: the drawing's strokes, the 28x28 image the network saw, the label, when, and which
pad taught it, with two SHA-256 sums: the digest of image and strokes (no drawing is stored twice) and the
checksum of label, image and strokes (a damaged row is an error when read, never another drawing). SQLite
(Python's own ``sqlite3``) lets any number of pads, in any number of processes, add drawings to one file at
the same time: each row goes in as one transaction, in write-ahead-log mode, so
writers take turns for a moment instead of overwriting each other's copies, and a process killed at any
instant leaves every committed row in place.

    store = TaughtStore("data/taught/taught.sqlite")
    drawing_id = store.add(image, label=7, strokes=strokes, pad="notebook 08")
    store.remove(drawing_id)                 # what "Undo teach" does
    X, y = load_taught()                     # uint8 (N, 28, 28), labels (N,): a training set, like MNIST
    export_stroke_set("my_digits.npz")       # to share them, in the stroke-set format (ocrlib/strokeset.py)

A file that is not a taught-drawings database (damaged, or some other program's) raises ``TaughtFileError``
naming it, and is never written to. A taught-drawings ``.npz`` of the earlier format, beside the database
(``taught.npz`` next to ``taught.sqlite``), is imported into it once.
"""

import hashlib
import json
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import numpy as np

from ocrlib.mnist import IMAGE_SHAPE, N_PIXELS
from ocrlib.npzfile import read_npz
from ocrlib.paths import TAUGHT_PATH
from ocrlib.strokeset import KINDS, SOURCES, StrokeSetError, save_stroke_set, unpack

APPLICATION_ID = 0x4F435254     # "OCRT" in the file header: this file is a taught-drawings database
SCHEMA_VERSION = 2              # PRAGMA user_version: 2 added the checksum (a version-1 file is upgraded)
BUSY_TIMEOUT = 60.0             # seconds a writer waits for another one's transaction before giving up

SCHEMA = """
CREATE TABLE IF NOT EXISTS drawings (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    label     INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    image     BLOB NOT NULL CHECK (length(image) = 784),    -- uint8 28x28, row by row, as MNIST
    strokes   TEXT NOT NULL,                                -- JSON [[[x, y], ...], ...], canvas pixels, y down
    taught_at REAL NOT NULL,                                -- seconds since 1970 (UTC)
    pad       TEXT NOT NULL,                                -- which pad taught it
    digest    TEXT NOT NULL UNIQUE,                         -- SHA-256 of image and strokes: no drawing twice
    checksum  TEXT NOT NULL DEFAULT ''                      -- SHA-256 of label, image and strokes: damage found
);
CREATE TABLE IF NOT EXISTS imported (
    name      TEXT PRIMARY KEY,                             -- an earlier .npz file, imported once
    drawings  INTEGER NOT NULL,
    at        REAL NOT NULL
);
"""


class TaughtFileError(ValueError):
    """A taught-drawings file that cannot be read; the message names the file and what is wrong."""


class DuplicateDrawing(ValueError):
    """The same drawing (same image, same strokes) is already in the database."""


def resolve_path(path=None):
    """The database file: ``path``, else env ``OCRLIB_TAUGHT_PATH``, else ``data/taught/taught.sqlite``.

    A path ending in ``.npz`` (the earlier format) names the database beside it, ``.sqlite``, into which
    that ``.npz`` is imported.
    """
    path = Path(path) if path is not None else Path(os.environ.get("OCRLIB_TAUGHT_PATH", TAUGHT_PATH))
    return path.with_suffix(".sqlite") if path.suffix == ".npz" else path


def drawing_digest(image, strokes):
    """SHA-256 of a drawing's 784 image bytes and its strokes: equal for the same drawing, whatever pad made it."""
    return _digest(_image_bytes(image), _strokes_json(strokes))


def _digest(image_bytes, strokes_json):
    return hashlib.sha256(image_bytes + strokes_json.encode()).hexdigest()


def _checksum(label, image_bytes, strokes_json):
    """SHA-256 of what a row says was taught: its label, image bytes and strokes. The digest leaves the label
    out (the same drawing under two labels is still the same drawing); this covers it."""
    return hashlib.sha256(f"{label}:".encode() + image_bytes + strokes_json.encode()).hexdigest()


INSERT = ("INSERT {} INTO drawings (label, image, strokes, taught_at, pad, digest, checksum) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)")


def _row(image, label, strokes, taught_at, pad):
    """The values INSERT adds for one drawing: its bytes, strokes as JSON, and its two sums."""
    image_bytes, strokes_json = _image_bytes(image), _strokes_json(strokes)
    return (label, image_bytes, strokes_json, taught_at, pad, _digest(image_bytes, strokes_json),
            _checksum(label, image_bytes, strokes_json))


class TaughtStore:
    """The taught drawings in one SQLite file. Every method opens its own short connection and closes it, so
    a store can be used from any thread, and many stores (in many processes) can share one file."""

    def __init__(self, path=None):
        self.path = resolve_path(path)
        self._ready = False

    def __repr__(self):
        return f"TaughtStore({str(self.path)!r})"

    # --- writing ---

    def add(self, image, label, strokes=(), pad=""):
        """Add one drawing in its own transaction; returns its id. ``image`` is (28, 28), uint8 or floats in [0, 1].

        Raises ``DuplicateDrawing`` if this very drawing (image and strokes) is already stored.
        """
        row = _row(image, check_label(label), strokes, time.time(), str(pad))
        with self._connect() as db:
            try:
                cursor = db.execute(INSERT.format(""), row)
            except sqlite3.IntegrityError as err:
                same = db.execute("SELECT id FROM drawings WHERE digest = ?", (row[5],)).fetchone()
                if same is None:                # refused, yet not a duplicate: the file's index is damaged
                    raise TaughtFileError(f"{self.path}: the taught-drawings database refused a new drawing "
                                          f"({err}) and holds no copy of it: it is damaged; it was left as it "
                                          f"is") from None
                raise DuplicateDrawing(f"this drawing is already in {self.path} (drawing {same[0]})") from None
            return cursor.lastrowid

    def remove(self, drawing_id):
        """Remove one drawing by its id; returns whether it was there."""
        with self._connect() as db:
            return db.execute("DELETE FROM drawings WHERE id = ?", (int(drawing_id),)).rowcount == 1

    # --- reading ---

    def __len__(self):
        if not self._exists():
            return 0
        with self._connect() as db:
            return db.execute("SELECT count(*) FROM drawings").fetchone()[0]

    def read(self, since=0):
        """The drawings with an id above ``since``, oldest first: ``(ids (N,), drawings, images uint8 (N, 28, 28),
        labels (N,))``, each drawing a list of (k, 2) float32 stroke arrays."""
        if not self._exists():
            return np.zeros(0, np.int64), [], np.zeros((0,) + IMAGE_SHAPE, np.uint8), np.zeros(0, np.intp)
        with self._connect() as db:
            rows = db.execute("SELECT id, strokes, image, label, digest, checksum FROM drawings WHERE id > ? "
                              "ORDER BY id", (int(since),)).fetchall()
        drawings = [_row_strokes(row, self.path) for row in rows]
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        images = np.frombuffer(b"".join(r[2] for r in rows), np.uint8).reshape((-1,) + IMAGE_SHAPE)
        labels = np.array([r[3] for r in rows], dtype=np.intp)
        return ids, drawings, images, labels

    # --- the file ---

    def _exists(self):
        """Is there anything to read: the database, or an earlier ``.npz`` to import into it?"""
        return self.path.exists() or self.path.with_suffix(".npz").is_file()

    def _connect(self):
        """A connection (its ``with`` block is one transaction, committed at the end) to a checked database."""
        if not self._ready:
            self._open_or_create()
            self._ready = True
        return _Connection(self.path)

    def _open_or_create(self):
        """Check the file is ours (set it up if it is new or empty); import the ``.npz`` beside it once."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        with _Connection(self.path, create=new) as db:
            db.execute("BEGIN IMMEDIATE")                   # one pad at a time sets a new file up
            app_id, version = _header(db, self.path)
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            fresh = app_id == 0 and not tables
            if fresh:                                       # an empty database: ours to set up
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif app_id != APPLICATION_ID:
                raise TaughtFileError(f"{self.path}: a SQLite database of another kind (application id "
                                      f"{app_id:#x}, tables {sorted(tables)}), not a taught-drawings database; "
                                      f"it was left as it is")
            elif version > SCHEMA_VERSION:
                raise TaughtFileError(f"{self.path}: taught-drawings database version {version}, newer than "
                                      f"this ocrlib reads ({SCHEMA_VERSION}); it was left as it is")
            else:                                           # ours: its tables must be as SCHEMA makes them
                _check_pages(db, self.path)
                _check_tables(db, self.path, version)
                if version < SCHEMA_VERSION:
                    _upgrade(db, self.path)
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
        if fresh:           # a database set up here logs ahead from now on; an existing one is read as it is
            _write_ahead_log(self.path)
        self._import_npz(self.path.with_suffix(".npz"))

    def _import_npz(self, npz_path):
        """Add the drawings of a taught-drawings ``.npz`` (the earlier format), once: the import is recorded."""
        if not npz_path.is_file():
            return
        with _Connection(self.path) as db:
            db.execute("BEGIN IMMEDIATE")                   # one importer at a time; the others then see it done
            if db.execute("SELECT 1 FROM imported WHERE name = ?", (npz_path.name,)).fetchone():
                return
            drawings, images, labels = _read_npz(npz_path)
            taught_at = npz_path.stat().st_mtime
            for strokes, image, label in zip(drawings, images, labels):
                db.execute(INSERT.format("OR IGNORE"),
                           _row(image, int(label), strokes, taught_at, f"imported from {npz_path.name}"))
            db.execute("INSERT INTO imported (name, drawings, at) VALUES (?, ?, ?)",
                       (npz_path.name, len(labels), time.time()))


class _Connection:
    """``with _Connection(path) as db:`` a sqlite3 connection whose block is one transaction: committed at
    the end, rolled back on an error, and closed either way. SQLite errors become ``TaughtFileError``."""

    def __init__(self, path, create=False):
        self.path = path
        mode = "rwc" if create else "rw"
        self.db = None
        try:
            self.db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode={mode}", uri=True,
                                      timeout=BUSY_TIMEOUT, isolation_level=None)     # we say BEGIN ourselves
            # In write-ahead-log mode, NORMAL makes each commit survive a killed process (what a pad's kernel
            # risks) without waiting for the disk; only a power cut could lose the last commits.
            self.db.execute("PRAGMA synchronous = NORMAL")
        except (sqlite3.Error, UnicodeDecodeError) as err:    # a damaged schema's text can be no UTF-8 at all
            if self.db is not None:
                self.db.close()
            raise TaughtFileError(f"{path}: cannot open the taught-drawings database ({_reason(err)})") from None

    def __enter__(self):
        return self.db

    def __exit__(self, kind, error, traceback):
        try:
            with closing(self.db):
                if self.db.in_transaction:
                    self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        except (sqlite3.DatabaseError, UnicodeDecodeError) as err:
            error = error or err
        if isinstance(error, (sqlite3.DatabaseError, UnicodeDecodeError)) and \
                not isinstance(error, sqlite3.IntegrityError):
            raise TaughtFileError(f"{self.path}: not a readable taught-drawings database ({_reason(error)}); "
                                  f"it was left as it is") from None
        return False


def _reason(error):
    """What SQLite said; for text SQLite returned that is not UTF-8 (a damaged file), say so."""
    if isinstance(error, UnicodeDecodeError):
        return f"text in the file is not UTF-8: {error.reason} at byte {error.start}"
    return str(error)


def _write_ahead_log(path):
    """Switch the database to write-ahead logging (it stays so): writers append to a log, readers never wait.

    The switch needs the file to itself for a moment; while other pads hold it, try again until BUSY_TIMEOUT.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT)
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal" or \
                    db.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise TaughtFileError(f"{path}: cannot switch to write-ahead logging ({err})") from None
        finally:
            db.close()
        time.sleep(0.01)


def _check_pages(db, path):
    """SQLite's own check of the file's structure (``PRAGMA quick_check``, one pass over its pages): damage
    that could make rows vanish without an error on reading them is found here; else ``TaughtFileError``."""
    lines = [line for row in db.execute("PRAGMA quick_check(5)") for line in row[0].splitlines()]
    # a bad value in a row (a CHECK or NOT NULL failing) is left to the check of each row read, which names it
    problems = [line for line in lines if line != "ok" and not line.startswith(("***", "CHECK constraint failed",
                                                                               "NULL value in"))]
    if problems:
        raise TaughtFileError(f"{path}: the taught-drawings database is damaged ({'; '.join(problems)}); "
                              f"it was left as it is")


DRAWING_COLUMNS = ("id", "label", "image", "strokes", "taught_at", "pad", "digest", "checksum")


def _check_tables(db, path, version=SCHEMA_VERSION):
    """A database of ours holds the tables SCHEMA makes (version 1: without the checksum), with its columns;
    else ``TaughtFileError``."""
    drawing_columns = DRAWING_COLUMNS if version >= 2 else DRAWING_COLUMNS[:-1]
    for table, columns in (("drawings", drawing_columns), ("imported", ("name", "drawings", "at"))):
        found = tuple(r[1] for r in db.execute(f"PRAGMA table_info({table})"))
        if found != columns:
            raise TaughtFileError(f"{path}: table {table!r} has columns {list(found)}, expected {list(columns)}; "
                                  f"the file was left as it is")


def _upgrade(db, path):
    """Version 1 to 2, in the transaction that opened the file: every row checked as version 1 checked it
    (a damaged one stops the upgrade, and the file is left as it was), then its checksum added."""
    rows = db.execute("SELECT id, strokes, image, label, digest FROM drawings ORDER BY id").fetchall()
    for row in rows:
        _row_strokes(row, path)
    db.execute("ALTER TABLE drawings ADD COLUMN checksum TEXT NOT NULL DEFAULT ''")
    db.executemany("UPDATE drawings SET checksum = ? WHERE id = ?",
                   [(_checksum(label, image, strokes), drawing_id) for drawing_id, strokes, image, label, _ in rows])
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _row_strokes(row, path):
    """Check one row ``(id, strokes JSON, image, label, digest[, checksum])`` as read back; its strokes as (k, 2)
    float32 arrays.

    SQLite keeps no checksum of its own: the digest and checksum stored with each drawing are checked against
    its label, image and strokes, so that a damaged file is an error rather than other drawings than were taught.
    """
    drawing_id, strokes, image, label, digest = row[:5]
    problem = None
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
        problem = f"label {label!r}, expected a digit 0..9"
    elif not isinstance(image, bytes) or len(image) != N_PIXELS:
        size = len(image) if isinstance(image, bytes) else type(image).__name__
        problem = f"image of {size} bytes, expected {N_PIXELS}"
    elif not isinstance(strokes, str):
        problem = f"strokes of type {type(strokes).__name__}, expected JSON text"
    else:
        try:
            arrays = [np.asarray(s, np.float32).reshape(-1, 2) for s in json.loads(strokes)]
        except (ValueError, TypeError, RecursionError) as err:
            problem = f"strokes that are not lists of (x, y) points ({type(err).__name__}: {str(err)[:80]})"
    if problem is None and digest != _digest(image, strokes):
        problem = "an image or strokes that do not match their digest (the file is damaged)"
    elif problem is None and len(row) > 5 and row[5] != _checksum(label, image, strokes):
        problem = "a label, image or strokes that do not match their checksum (the file is damaged)"
    if problem is not None:
        raise TaughtFileError(f"{path}: drawing {drawing_id} has {problem}; the file was left as it is")
    return arrays


def _header(db, path):
    """(application id, schema version) of an open database; an unreadable file raises ``TaughtFileError``."""
    try:
        return db.execute("PRAGMA application_id").fetchone()[0], db.execute("PRAGMA user_version").fetchone()[0]
    except (sqlite3.DatabaseError, UnicodeDecodeError) as err:
        raise TaughtFileError(f"{path}: not a readable taught-drawings database ({_reason(err)}); "
                              f"it was left as it is") from None


# --- the drawings as arrays ---

def read_taught(path=None):
    """All taught drawings: ``(drawings, images uint8 (N, 28, 28), labels (N,))``; empty if there is no file."""
    _, drawings, images, labels = TaughtStore(path).read()
    return drawings, images, labels


def load_taught(path=None, strokes=False):
    """The taught digits as a training set: ``X`` uint8 (N, 28, 28) (like MNIST) and labels ``y`` (N,).

    With ``strokes=True``: ``(X, y, drawings)``, each drawing a list of (k, 2) stroke arrays.
    """
    drawings, images, labels = read_taught(path)
    return (images, labels, drawings) if strokes else (images, labels)


def export_stroke_set(out_path, path=None):
    """Write the taught drawings to a stroke-set ``.npz`` (``ocrlib/strokeset.py``) for sharing; returns how many."""
    drawings, _images, labels = read_taught(path)
    n = len(labels)
    save_stroke_set(out_path, drawings, labels, source=np.full(n, SOURCES.index("taught")),
                    mnist_index=np.full(n, -1))
    return n


def _read_npz(path):
    """A taught-drawings ``.npz`` of the earlier format: (drawings, images uint8 (N, 28, 28), labels (N,))."""
    try:
        arrays = read_npz(path, dict(KINDS, images="u"), StrokeSetError)
        drawings, labels = unpack(arrays, name=str(path))
    except (StrokeSetError, OSError) as err:
        raise TaughtFileError(f"{err} (expected a taught-drawings file to import)") from None
    images = arrays.get("images")
    if images is None or images.shape != (len(labels),) + IMAGE_SHAPE or images.dtype != np.uint8:
        raise TaughtFileError(f"{path}: expected 'images' uint8 ({len(labels)}, 28, 28), got "
                              f"{None if images is None else (images.dtype, images.shape)}")
    return drawings, images, labels


def check_label(label):
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) or not 0 <= label <= 9:
        raise ValueError(f"label must be a digit 0..9, got {label!r}")
    return int(label)


def _image_bytes(image):
    """A 28x28 image, uint8 or floats in [0, 1], as its 784 uint8 bytes (what MNIST stores)."""
    image = np.asarray(image)
    if image.size != N_PIXELS:
        raise ValueError(f"image must be 28x28 (784 pixels), got shape {image.shape}")
    if image.dtype != np.uint8:
        image = np.round(np.clip(image.astype(np.float64), 0, 1) * 255).astype(np.uint8)
    return image.reshape(N_PIXELS).tobytes()


def _strokes_json(strokes):
    """Strokes (each (k, 2) points) as compact JSON, to 0.01 px."""
    return json.dumps([np.round(np.asarray(s, np.float64).reshape(-1, 2), 2).tolist() for s in strokes],
                      separators=(",", ":"))
