"""ocrlib.taught: the taught-drawings database, its round trips, many writers at once, and bad files."""

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from ocrlib.strokeset import SOURCES, load_stroke_set, pack
from ocrlib.taught import (
    APPLICATION_ID,
    DuplicateDrawing,
    TaughtFileError,
    TaughtStore,
    drawing_digest,
    export_stroke_set,
    load_taught,
    resolve_path,
)


def a_drawing(rng):
    """A random drawing: (image uint8 (28, 28), strokes [(k, 2) ...], label)."""
    image = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    strokes = [rng.random((int(rng.integers(1, 9)), 2)) * 280 for _ in range(int(rng.integers(1, 4)))]
    return image, strokes, int(rng.integers(0, 10))


def test_drawings_round_trip(tmp_path):
    store = TaughtStore(tmp_path / "taught.sqlite")
    rng = np.random.default_rng(0)
    drawings = [a_drawing(rng) for _ in range(5)]
    ids = [store.add(image, label, strokes, pad="test") for image, strokes, label in drawings]
    assert ids == sorted(ids) and len(set(ids)) == 5 and len(store) == 5
    X, y, strokes_back = load_taught(tmp_path / "taught.sqlite", strokes=True)
    assert X.dtype == np.uint8 and X.shape == (5, 28, 28) and y.tolist() == [d[2] for d in drawings]
    for (image, strokes, _), x, back in zip(drawings, X, strokes_back):
        np.testing.assert_array_equal(x, image)
        assert len(back) == len(strokes)
        for s, b in zip(strokes, back):
            np.testing.assert_allclose(b, s, atol=0.006)
    assert store.remove(ids[1]) and not store.remove(ids[1])
    assert load_taught(tmp_path / "taught.sqlite")[1].tolist() == [d[2] for i, d in enumerate(drawings) if i != 1]
    later = store.read(since=ids[2])[0]
    assert later.tolist() == ids[3:]


def test_float_images_are_stored_as_mnist_bytes(tmp_path):
    store = TaughtStore(tmp_path / "t.sqlite")
    image = np.zeros((28, 28), np.float32)
    image[5:20, 14] = 1.0
    image[5, 15] = 0.5
    store.add(image, 1)
    X, _ = load_taught(tmp_path / "t.sqlite")
    assert X[0, 10, 14] == 255 and X[0, 5, 15] == 128 and X[0].sum() == 15 * 255 + 128


def test_the_same_drawing_is_never_stored_twice(tmp_path):
    store = TaughtStore(tmp_path / "t.sqlite")
    image, strokes, label = a_drawing(np.random.default_rng(1))
    first = store.add(image, label, strokes)
    with pytest.raises(DuplicateDrawing, match=f"drawing {first}"):
        TaughtStore(tmp_path / "t.sqlite").add(image, (label + 1) % 10, strokes, pad="another pad")
    assert len(store) == 1
    store.add(image, label, strokes[:-1] + [strokes[-1] + 1])       # other strokes: another drawing
    assert len(store) == 2


@pytest.mark.parametrize("image, label, match", [
    (np.zeros((28, 27), np.uint8), 1, "28x28"),
    (np.zeros((28, 28), np.uint8), 10, "label"),
    (np.zeros((28, 28), np.uint8), -1, "label"),
    (np.zeros((28, 28), np.uint8), True, "label"),
    (np.zeros((28, 28), np.uint8), 2.0, "label"),
])
def test_bad_rows_are_refused_and_nothing_is_stored(tmp_path, image, label, match):
    store = TaughtStore(tmp_path / "t.sqlite")
    store.add(np.ones((28, 28), np.uint8), 3)
    with pytest.raises(ValueError, match=match):
        store.add(image, label)
    assert len(store) == 1


def test_no_file_reads_as_empty_and_is_not_created(tmp_path):
    X, y = load_taught(tmp_path / "none.sqlite")
    assert X.shape == (0, 28, 28) and y.shape == (0,)
    assert len(TaughtStore(tmp_path / "none.sqlite")) == 0 and not (tmp_path / "none.sqlite").exists()


def test_default_path_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("OCRLIB_TAUGHT_PATH", raising=False)
    assert resolve_path().name == "taught.sqlite" and resolve_path().parent.name == "taught"
    monkeypatch.setenv("OCRLIB_TAUGHT_PATH", str(tmp_path / "mine.sqlite"))
    assert resolve_path() == tmp_path / "mine.sqlite"
    assert resolve_path(tmp_path / "old.npz") == tmp_path / "old.sqlite"


def write_old_npz(path, drawings, images, labels):
    """A taught-drawings file of the earlier format: a stroke set plus an ``images`` array."""
    arrays = pack(drawings, labels, source=np.full(len(labels), SOURCES.index("taught")),
                  mnist_index=np.full(len(labels), -1))
    arrays["images"] = np.asarray(images, np.uint8)
    np.savez(path, **arrays)


def test_an_old_npz_is_imported_once(tmp_path):
    rng = np.random.default_rng(2)
    drawings = [a_drawing(rng) for _ in range(3)]
    write_old_npz(tmp_path / "taught.npz", [d[1] for d in drawings], [d[0] for d in drawings],
                  [d[2] for d in drawings])
    old = (tmp_path / "taught.npz").read_bytes()
    X, y = load_taught(tmp_path / "taught.npz")                      # names the .sqlite beside it
    assert (tmp_path / "taught.sqlite").is_file() and y.tolist() == [d[2] for d in drawings]
    np.testing.assert_array_equal(X, [d[0] for d in drawings])
    store = TaughtStore(tmp_path / "taught.sqlite")
    store.add(*a_drawing(rng)[:1], 4)
    assert len(TaughtStore(tmp_path / "taught.sqlite")) == 4          # a new store does not import it again
    assert (tmp_path / "taught.npz").read_bytes() == old              # and the old file is left as it was


def test_export_to_a_stroke_set(tmp_path):
    store = TaughtStore(tmp_path / "t.sqlite")
    rng = np.random.default_rng(3)
    drawings = [a_drawing(rng) for _ in range(4)]
    for image, strokes, label in drawings:
        store.add(image, label, strokes)
    assert export_stroke_set(tmp_path / "shared.npz", tmp_path / "t.sqlite") == 4
    back, labels = load_stroke_set(tmp_path / "shared.npz", source="taught")
    assert labels.tolist() == [d[2] for d in drawings]
    np.testing.assert_allclose(back[2][0], drawings[2][1][0], atol=0.006)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def damage(path, *statements):
    """Change a database file behind the store's back, as damage would (constraints not checked); closed."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA ignore_check_constraints = ON")
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def refused_untouched(path, match):
    """Reading ``path`` is a TaughtFileError naming it and matching ``match``, and leaves its bytes as they were."""
    before = path.read_bytes()
    with pytest.raises(TaughtFileError, match=match) as error:
        load_taught(path)
    assert str(path) in str(error.value) and path.read_bytes() == before


def test_a_damaged_file_is_named_and_left_untouched(tmp_path):
    bad = tmp_path / "taught.sqlite"
    bad.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 20)
    before = digest(bad)
    for action in (lambda: len(TaughtStore(bad)), lambda: TaughtStore(bad).add(np.ones((28, 28), np.uint8), 1),
                   lambda: load_taught(bad)):
        with pytest.raises(TaughtFileError, match="taught.sqlite"):
            action()
    assert digest(bad) == before and sorted(p.name for p in tmp_path.iterdir()) == ["taught.sqlite"]


def test_a_truncated_database_is_named_and_left_untouched(tmp_path):
    path = tmp_path / "t.sqlite"
    store = TaughtStore(path)
    rng = np.random.default_rng(4)
    for _ in range(40):
        store.add(*a_drawing(rng)[:1], 1, strokes=[rng.random((200, 2))])
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(data[:len(data) // 2])
    with pytest.raises(TaughtFileError, match="damaged.sqlite"):
        load_taught(damaged)
    assert damaged.read_bytes() == data[:len(data) // 2]


def test_a_schema_damaged_into_text_that_is_not_utf8_is_named_and_left_untouched(tmp_path):
    """One bit flipped in the table's SQL (a space, 0x20, becoming 0xa0): SQLite's complaint quotes text that
    is not UTF-8, which Python cannot even decode; still a TaughtFileError naming the file."""
    path = tmp_path / "taught.sqlite"
    TaughtStore(path).add(*a_drawing(np.random.default_rng(5))[:1], 3)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    at = data.index(b"digest    TEXT") + len(b"digest")
    assert data[at] == 0x20
    data[at] |= 0x80
    path.write_bytes(bytes(data))
    for action in (lambda: load_taught(path), lambda: TaughtStore(path).add(np.ones((28, 28), np.uint8), 1)):
        with pytest.raises(TaughtFileError, match="taught.sqlite.*UTF-8"):
            action()
    assert path.read_bytes() == bytes(data)


def test_a_row_cut_from_its_page_is_found_not_silently_dropped(tmp_path):
    """The page that holds the drawings says it holds one fewer: reading would just return the others, as if
    that drawing had never been taught. SQLite's own check of the pages finds it."""
    path = tmp_path / "taught.sqlite"
    rng = np.random.default_rng(6)
    store = TaughtStore(path)
    for _ in range(3):
        image, _, label = a_drawing(rng)
        store.add(image, label)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'drawings'").fetchone()
    db.close()
    data = bytearray(path.read_bytes())
    header = (root - 1) * page_size
    assert data[header] == 0x0D and int.from_bytes(data[header + 3:header + 5], "big") == 3    # a leaf, 3 rows
    data[header + 3:header + 5] = (2).to_bytes(2, "big")
    path.write_bytes(bytes(data))
    with pytest.raises(TaughtFileError, match="taught.sqlite.*damaged"):
        load_taught(path)
    assert path.read_bytes() == bytes(data)


def test_another_programs_database_is_refused(tmp_path):
    foreign = tmp_path / "notes.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.execute("INSERT INTO notes VALUES ('keep me')")
    db.close()
    before = digest(foreign)
    with pytest.raises(TaughtFileError, match="notes.sqlite.*another kind"):
        TaughtStore(foreign).add(np.ones((28, 28), np.uint8), 1)
    assert digest(foreign) == before


def test_a_newer_database_version_is_refused(tmp_path):
    path = tmp_path / "t.sqlite"
    TaughtStore(path).add(np.ones((28, 28), np.uint8), 1)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(TaughtFileError, match="version 99"):
        load_taught(path)


# --- many writers at once, and writers killed mid-way ---

WORKER = """
import sys
import numpy as np
from ocrlib.taught import TaughtStore

path, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = TaughtStore(path)
rng = np.random.default_rng(seed)
for i in range(n):
    image = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    strokes = [rng.random((5, 2)) * 280]
    drawing_id = store.add(image, i % 10, strokes, pad=f"worker {seed}")
    print(drawing_id, i, flush=True)            # printed only once the row is committed
"""


def expected_images(seed, n):
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        images.append(rng.integers(0, 256, (28, 28), dtype=np.uint8))
        rng.random((5, 2))
    return images


def committed(output):
    """The (id, i) pairs a worker reported as committed."""
    return [tuple(map(int, line.split())) for line in output.splitlines() if line.strip()]


def test_four_processes_and_killed_ones_lose_nothing(tmp_path):
    path = tmp_path / "shared.sqlite"
    n = 50
    start = lambda seed, count: subprocess.Popen([sys.executable, "-c", WORKER, str(path), str(seed), str(count)],
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writers = {seed: start(seed, n) for seed in range(4)}
    # Meanwhile a fifth writer is killed (SIGKILL, as when a kernel dies) at random moments, three times over.
    rng = np.random.default_rng(5)
    victims = {}
    for seed in (100, 101, 102):
        victim = start(seed, 1000)
        first = victim.stdout.readline()                # it is up and writing ...
        time.sleep(rng.uniform(0.0, 0.5))               # ... and dies at some moment of its work
        victim.send_signal(signal.SIGKILL)
        victims[seed] = committed(first + victim.stdout.read())       # the same reader: nothing read is lost
        victim.wait()
        victim.stdout.close()
        victim.stderr.close()
    reports = {}
    for seed, writer in writers.items():
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        reports[seed] = committed(out)

    ids, _drawings, images, labels = TaughtStore(path).read()
    stored = {int(i): (image, int(label)) for i, image, label in zip(ids, images, labels)}
    for seed, report in {**reports, **victims}.items():
        expected = expected_images(seed, max((i for _, i in report), default=-1) + 1)
        for drawing_id, i in report:                     # every committed drawing is there, as written
            image, label = stored[drawing_id]
            np.testing.assert_array_equal(image, expected[i])
            assert label == i % 10
    assert all(len(reports[seed]) == n for seed in reports)
    assert sum(len(v) for v in victims.values()) > 0           # the victims did commit before they died
    # nothing else: at most the one row a victim committed but was killed before reporting
    reported = {drawing_id for report in [*reports.values(), *victims.values()] for drawing_id, _ in report}
    assert reported <= set(stored) and len(stored) - len(reported) <= len(victims)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def test_a_damaged_row_is_named_and_the_file_left_as_it_is(tmp_path):
    """SQLite keeps no checksum: a changed image, a label out of 0..9 or an image of the wrong size in a row
    is found by checking each row read (its digest), never returned as a drawing."""
    path = tmp_path / "taught.sqlite"
    rng = np.random.default_rng(3)
    for _ in range(3):
        image, strokes, label = a_drawing(rng)
        TaughtStore(path).add(image, label, strokes)
    for change in ("UPDATE drawings SET image = zeroblob(784) WHERE id = 2",
                   "UPDATE drawings SET label = 12 WHERE id = 2",
                   "UPDATE drawings SET image = zeroblob(783) WHERE id = 2"):
        damage(path, change)
        refused_untouched(path, "drawing 2")


def test_a_label_damaged_into_another_digit_is_found(tmp_path):
    """The digest leaves the label out (the same drawing under two labels is one drawing); the checksum does not."""
    path = tmp_path / "taught.sqlite"
    rng = np.random.default_rng(7)
    for _ in range(3):
        image, strokes, label = a_drawing(rng)
        TaughtStore(path).add(image, label, strokes)
    damage(path, "UPDATE drawings SET label = (label + 1) % 10 WHERE id = 2")
    refused_untouched(path, "drawing 2 has a label, image or strokes that do not match")


def test_a_drawing_refused_by_a_damaged_file_is_a_clear_error(tmp_path):
    """A damaged constraint refuses a new drawing that is no duplicate: TaughtFileError, and nothing written."""
    path = tmp_path / "taught.sqlite"
    rng = np.random.default_rng(10)
    TaughtStore(path).add(a_drawing(rng)[0], 0)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA writable_schema = ON")
        db.execute("UPDATE sqlite_master SET sql = replace(sql, 'BETWEEN 0 AND 9', 'BETWEEN 0 AND 1') "
                   "WHERE name = 'drawings'")
        db.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    damaged = path.read_bytes()
    with pytest.raises(TaughtFileError, match="taught.sqlite: the taught-drawings database refused a new drawing"):
        TaughtStore(path).add(a_drawing(rng)[0], 7)
    assert path.read_bytes() == damaged


VERSION_1 = """
CREATE TABLE drawings (id INTEGER PRIMARY KEY AUTOINCREMENT, label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    image BLOB NOT NULL CHECK (length(image) = 784), strokes TEXT NOT NULL, taught_at REAL NOT NULL,
    pad TEXT NOT NULL, digest TEXT NOT NULL UNIQUE);
CREATE TABLE imported (name TEXT PRIMARY KEY, drawings INTEGER NOT NULL, at REAL NOT NULL);
"""


def version_1_file(path, drawings):
    """A taught-drawings database as version 1 wrote it (no checksum column), holding ``drawings``."""
    db = sqlite3.connect(path)
    db.executescript(f"PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1;" + VERSION_1)
    for image, strokes, label in drawings:
        stored = json.dumps([np.round(s, 2).tolist() for s in strokes], separators=(",", ":"))
        db.execute("INSERT INTO drawings (label, image, strokes, taught_at, pad, digest) VALUES (?, ?, ?, 0, 'old', ?)",
                   (label, image.tobytes(), stored, drawing_digest(image, strokes)))
    db.commit()
    db.close()


def test_a_version_1_file_is_upgraded_with_every_drawing_and_then_checked(tmp_path):
    path = tmp_path / "taught.sqlite"
    rng = np.random.default_rng(8)
    drawings = [a_drawing(rng) for _ in range(3)]
    version_1_file(path, drawings)
    X, y = load_taught(path)
    assert np.array_equal(X, np.stack([d[0] for d in drawings])) and y.tolist() == [d[2] for d in drawings]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert db.execute("SELECT count(*) FROM drawings WHERE checksum = ''").fetchone()[0] == 0
    db.close()
    damage(path, "UPDATE drawings SET label = (label + 1) % 10 WHERE id = 3")     # now a flipped label shows
    refused_untouched(path, "drawing 3 has a label, image or strokes that do not match")


def test_a_damaged_version_1_file_is_not_upgraded_and_left_as_it_is(tmp_path):
    path = tmp_path / "taught.sqlite"
    rng = np.random.default_rng(9)
    version_1_file(path, [a_drawing(rng) for _ in range(2)])
    damage(path, "UPDATE drawings SET image = zeroblob(784) WHERE id = 2")
    refused_untouched(path, "drawing 2")


def test_a_table_with_other_columns_is_refused_and_not_changed(tmp_path):
    path = tmp_path / "taught.sqlite"
    db = sqlite3.connect(path)
    db.executescript(f"PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1; "
                     "CREATE TABLE drawings (id INTEGER PRIMARY KEY, label INTEGER, image BLOB);")
    db.close()
    before = path.read_bytes()
    with pytest.raises(TaughtFileError, match="columns") as error:
        load_taught(path)
    assert str(path) in str(error.value) and path.read_bytes() == before
