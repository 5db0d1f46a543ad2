"""Reading ``.npz`` archives that nobody vouches for: only the members expected, each header checked first.

``np.load`` trusts its file: it lists every member, allocates whatever a ``.npy`` header claims (a few
bytes can claim 40 GB), inflates members nobody asked for, and lets zipfile's own exceptions out
(``BadZipFile``, ``NotImplementedError`` for an odd compression method, ``RuntimeError`` for an encrypted
member, ``zlib.error``). ``read_npz`` instead

1. opens the archive and refuses any member it was not asked for, and any it was asked for and lacks;
2. reads every member's ``.npy`` header (``numpy.lib.format``, never a pickle) and checks the dtype (plain
   numbers or text, no objects) and the shape against the member's size in the archive and a cap on the
   bytes of all the arrays together, before anything is allocated;
3. only then reads each array, in chunks, into an array of the size its header declared; zipfile checks
   the member's CRC-32 at its end.

Every problem becomes the caller's exception (``ModelFileError``, ``StrokeSetError``, ...) naming the file
and the member; a missing or unreadable file is an ``OSError`` naming it.
"""

import math
import zipfile
from pathlib import Path

import numpy as np

MAX_NPZ_BYTES = 64 * 2 ** 20     # all the arrays of one archive together, once read (a 784-800-10 model: 2.5 MB)
CHUNK = 2 ** 20                  # bytes read at a time


def npz_members(path, error):
    """The names of the arrays in the archive ``path`` (its members without ``.npy``)."""
    path = Path(path)
    with _open(path, error) as archive:
        return [_array_name(info.filename, path, error) for info in archive.infolist()]


def read_npz(path, dtypes, error, optional=(), max_bytes=MAX_NPZ_BYTES):
    """The arrays of the ``.npz`` file ``path`` as ``{name: array}``.

    ``dtypes`` maps each array name to the dtype kinds it may have ("f" floats, "iu" integers, "U" text,
    "b" booleans); names in ``optional`` may be absent. Any other member, a damaged archive or header, another
    dtype or more than ``max_bytes`` of arrays raise ``error`` naming the file and the member.
    """
    path = Path(path)
    with _open(path, error) as archive:
        infos = {}
        for info in archive.infolist():
            name = _array_name(info.filename, path, error)
            if name in infos:
                raise error(f"{path}: holds the array {name!r} twice")
            infos[name] = info
        unexpected = sorted(set(infos) - set(dtypes))
        if unexpected:
            raise error(f"{path}: unexpected arrays {unexpected}; expected only {sorted(dtypes)}")
        missing = [name for name in dtypes if name not in infos and name not in optional]
        if missing:
            raise error(f"{path}: missing arrays {missing}")
        headers, total = {}, 0
        for name, info in infos.items():              # every header first: nothing is allocated yet
            headers[name] = _header(archive, info, path, dtypes[name], error)
            total += headers[name][3]
            if total > max_bytes:
                raise error(f"{path}: its arrays would take more than {max_bytes:,} bytes (the cap, "
                            f"MAX_NPZ_BYTES); {name!r} alone declares shape {headers[name][0]} of {headers[name][2]}")
        return {name: _data(archive, infos[name], headers[name], path, error) for name in infos}


def _open(path, error):
    if not path.is_file():
        with open(path, "rb"):                         # the OSError that says why (missing, a folder, ...)
            pass
    try:
        return zipfile.ZipFile(path)
    except OSError:
        raise
    except Exception as err:  # noqa: BLE001 -- BadZipFile, LargeZipFile, ValueError, EOFError, ...
        raise error(f"{path}: not a .npz archive ({type(err).__name__}: {err})") from None


def _array_name(filename, path, error):
    if not filename.endswith(".npy") or len(filename) == 4:
        raise error(f"{path}: member {filename!r} is not a .npy array")
    return filename[:-4]


def _header(archive, info, path, kinds, error):
    """(shape, fortran_order, dtype, nbytes) of one member, from its .npy header, checked."""
    name = info.filename[:-4]
    where = f"{path}: array {name!r}"
    if info.flag_bits & 0x1:
        raise error(f"{where} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise error(f"{where} uses zip compression method {info.compress_type} (expected stored or deflated)")
    try:
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f".npy format version {version} (expected 1.0 or 2.0)")
            header_size = f.tell()
    except Exception as err:  # noqa: BLE001 -- a damaged header or zip entry, whatever the library raises
        raise error(f"{where}: damaged .npy header ({type(err).__name__}: {err})") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in kinds:
        raise error(f"{where} has dtype {dtype}; expected {_kinds(kinds)}")
    if dtype.itemsize == 0:
        raise error(f"{where} has dtype {dtype} of size 0")
    nbytes = math.prod(shape) * dtype.itemsize         # Python ints: a huge shape cannot overflow
    if math.prod(d for d in shape if d) * dtype.itemsize > MAX_NPZ_BYTES:     # an empty shape counts too
        raise error(f"{where}: its header declares shape {shape} of {dtype}, more than an array may be "
                    f"({MAX_NPZ_BYTES:,} bytes, MAX_NPZ_BYTES)")
    if header_size + nbytes != info.file_size:
        raise error(f"{where}: its header declares shape {shape} of {dtype} ({nbytes:,} bytes) but the "
                    f"archive holds {max(info.file_size - header_size, 0):,} bytes of data")
    return shape, fortran_order, dtype, nbytes


def _data(archive, info, header, path, error):
    shape, fortran_order, dtype, nbytes = header
    array = np.empty(math.prod(shape), dtype)
    buffer = memoryview(array.view(np.uint8))
    try:
        with archive.open(info) as f:
            f.seek(info.file_size - nbytes)
            done = 0
            while done < nbytes:
                chunk = f.read(min(CHUNK, nbytes - done))
                if not chunk:
                    raise EOFError(f"data ends after {done:,} of {nbytes:,} bytes")
                buffer[done:done + len(chunk)] = chunk
                done += len(chunk)
            f.read(1)                                  # reaching the end checks the member's CRC-32
    except Exception as err:  # noqa: BLE001 -- BadZipFile (CRC), zlib.error, EOFError, ...
        raise error(f"{path}: array {info.filename[:-4]!r} is damaged ({type(err).__name__}: {err})") from None
    return array.reshape(shape, order="F" if fortran_order else "C")


def _kinds(kinds):
    words = {"f": "floats", "i": "integers", "u": "integers", "U": "text", "b": "booleans"}
    return " or ".join(dict.fromkeys(words[k] for k in kinds))
