"""Text files in and out: ``read_text`` and ``Bag.to_textfiles``.

Any fsspec URL works (local paths, ``memory://``, ``s3://`` ...). Lines keep
their delimiter (``"\\n"`` by default; no other line ending is translated).

- ``blocksize=None``: one partition per file, read as a stream (compressed
  files are decompressed on the fly), so memory stays at one chunk.
- ``blocksize=n``: uncompressed files are cut into the fewest equal byte
  ranges of at most ``n`` bytes.
  A line belongs to the block in which it starts: a block skips the partial
  line at its start (up to the first delimiter at or after its first byte)
  and reads past its end to finish its last line. So no line is lost or
  read twice whatever the line lengths and block sizes.

Note: ``memory://`` files live in one process; compute such bags with the
``threads`` or ``sync`` scheduler.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from shoal.bag.core import Bag, Parts
from shoal.bag.elementwise import WithPath, op_with_path
from shoal.bag.expr import BagExpr, Consume
from shoal.core.base import compute as compute_collections
from shoal.core.build import GraphBuilder
from shoal.core.task import Task
from shoal.core.utils import parse_bytes

__all__ = ["read_text", "to_textfiles"]

_CHUNK = 1 << 16  # bytes read at a time when streaming a file (larger is slower)
_SEEK_CHUNK = 1 << 16  # bytes read at a time when looking for a delimiter


def _split_lines(text: str, delimiter: str) -> tuple[list[str], str]:
    """Complete lines (each with its delimiter) and the unfinished rest."""
    pieces = text.split(delimiter)
    rest = pieces.pop()
    return [p + delimiter for p in pieces], rest


def _missing_file(fs: Any, path: str, error: Exception) -> Exception:
    if "memory" in fs.protocol:
        error.add_note(
            f"{path!r} is on the memory:// filesystem, which lives in one process; the "
            "processes scheduler cannot see it: compute with scheduler='threads' or 'sync'"
        )
    return error


class _Window(io.RawIOBase):
    """The next ``nbytes`` bytes of a file (all the rest if None), as a raw
    stream that ``io`` can buffer and decode in C."""

    def __init__(self, f: Any, nbytes: int | None):
        self.f = f
        self.left = nbytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = len(buffer) if self.left is None else min(len(buffer), self.left)
        if n <= 0:
            return 0
        data = self.f.read(n)
        buffer[: len(data)] = data
        if self.left is not None:
            self.left -= len(data)
        return len(data)


def _decode_lines(
    f: Any, nbytes: int | None, encoding: str, errors: str, delimiter: str
) -> Iterator[str]:
    """Lines of the next ``nbytes`` bytes of ``f`` (all of it if None), read
    and decoded one chunk at a time (an iterator, not a generator, for the
    usual delimiters: one level less per line for the caller's
    ``yield from``)."""
    if delimiter in ("\n", "\r\n", "\r"):
        # io's own line splitting, on exactly this delimiter and untranslated
        raw = io.BufferedReader(_Window(f, nbytes), buffer_size=_CHUNK)
        text = io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline=delimiter)
        text._CHUNK_SIZE = _CHUNK  # type: ignore[attr-defined]  # CPython's read size, unstubbed
        return text
    return _split_decoded(f, nbytes, encoding, errors, delimiter)


def _split_decoded(
    f: Any, nbytes: int | None, encoding: str, errors: str, delimiter: str
) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    rest = ""
    left = nbytes
    while True:
        size = _CHUNK if left is None else min(_CHUNK, left)
        chunk = f.read(size) if size else b""
        if left is not None:
            left -= len(chunk)
        text = rest + decoder.decode(chunk, final=not chunk)
        lines, rest = _split_lines(text, delimiter)
        yield from lines
        if not chunk:
            break
    if rest:
        yield rest


def _open(fs: Any, path: str, compression: str | None = None) -> Any:
    try:
        return fs.open(path, "rb", compression=compression)
    except FileNotFoundError as e:
        raise _missing_file(fs, path, e) from None


def read_file_lines(
    fs: Any, path: str, compression: str | None, encoding: str, errors: str, delimiter: str
) -> Iterator[str]:
    """Stream the lines of a whole (possibly compressed) file.

    >>> import fsspec
    >>> fs = fsspec.filesystem("memory")
    >>> fs.pipe("/doc-lines.txt", b"a\\nb")
    >>> list(read_file_lines(fs, "/doc-lines.txt", None, "utf-8", "strict", "\\n"))
    ['a\\n', 'b']
    """
    with _open(fs, path, compression) as f:
        yield from _decode_lines(f, None, encoding, errors, delimiter)


def read_files_lines(
    fs: Any,
    paths: list[str],
    compressions: list[str | None],
    encoding: str,
    errors: str,
    delimiter: str,
    include_path: bool,
) -> Iterator:
    """Stream the lines of several whole files, one file after the other
    (``(line, path)`` pairs if ``include_path``).

    >>> import fsspec
    >>> fs = fsspec.filesystem("memory")
    >>> fs.pipe({"/doc-f1.txt": b"a\\n", "/doc-f2.txt": b"b\\n"})
    >>> paths = ["/doc-f1.txt", "/doc-f2.txt"]
    >>> list(read_files_lines(fs, paths, [None, None], "utf-8", "strict", "\\n", True))
    [('a\\n', '/doc-f1.txt'), ('b\\n', '/doc-f2.txt')]
    """
    for path, comp in zip(paths, compressions, strict=True):
        lines = read_file_lines(fs, path, comp, encoding, errors, delimiter)
        yield from op_with_path(lines, path) if include_path else lines


def _find(f: Any, pos: int, delim: bytes) -> int | None:
    """Absolute position of the first ``delim`` at or after ``pos``, or None."""
    f.seek(pos)
    buf = b""
    base = pos
    while True:
        chunk = f.read(_SEEK_CHUNK)
        if not chunk:
            return None
        buf += chunk
        i = buf.find(delim)
        if i >= 0:
            return base + i
        keep = len(delim) - 1
        cut = len(buf) - keep if keep else len(buf)
        base += cut
        buf = buf[cut:]


def read_block_lines(
    fs: Any, path: str, start: int, end: int, encoding: str, errors: str, delimiter: str
) -> Iterator[str]:
    """Stream the lines that start in bytes ``[start, end)`` of an
    uncompressed file.

    >>> import fsspec
    >>> fs = fsspec.filesystem("memory")
    >>> fs.pipe("/doc-block.txt", b"aa\\nbb\\ncc\\n")
    >>> [list(read_block_lines(fs, "/doc-block.txt", s, s + 4, "utf-8", "strict", "\\n"))
    ...  for s in (0, 4, 8)]
    [['aa\\n', 'bb\\n'], ['cc\\n'], []]
    """
    delim = delimiter.encode(encoding)
    with _open(fs, path) as f:
        if start == 0:
            begin = 0
        else:
            q = _find(f, max(0, start - len(delim)), delim)
            if q is None:
                return
            begin = q + len(delim)
        if begin >= end:
            return
        q = _find(f, max(begin, end - len(delim)), delim)
        f.seek(begin)
        nbytes = None if q is None else q + len(delim) - begin
        yield from _decode_lines(f, nbytes, encoding, errors, delimiter)


def even_blocks(nbytes: int, blocksize: int) -> list[tuple[int, int]]:
    """Byte ranges ``[start, end)`` cutting ``nbytes`` into the fewest blocks
    of at most ``blocksize`` bytes, all of (nearly) the same size, so the
    partitions of a file cost the same and a pool's workers finish together
    (one block, ``(0, 0)``, for an empty file).

    >>> even_blocks(10, 4)
    [(0, 3), (3, 6), (6, 10)]
    >>> even_blocks(0, 4)
    [(0, 0)]
    """
    count = max(1, -(-nbytes // blocksize))
    cuts = [nbytes * i // count for i in range(count + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def _expand_paths(urlpath: Any, storage_options: dict | None) -> tuple[Any, list[str]]:
    import fsspec

    fs, _, paths = fsspec.get_fs_token_paths(
        urlpath, mode="rb", storage_options=storage_options or {}
    )
    given = urlpath if isinstance(urlpath, (list, tuple)) else [urlpath]
    if not paths:
        raise FileNotFoundError(f"read_text: no files match {urlpath!r}")
    out: list[str] = []
    for p in paths:
        if fs.isdir(p):
            out.extend(sorted(f for f in fs.find(p) if fs.isfile(f)))
        elif fs.isfile(p):
            out.append(p)
        else:
            raise FileNotFoundError(
                f"read_text: file not found: {p!r} (from {given if len(given) > 1 else given[0]!r})"
            )
    if not out:
        raise FileNotFoundError(f"read_text: no files found under {urlpath!r}")
    return fs, out


def _compression_of(path: str, compression: str | None) -> str | None:
    from fsspec.compression import compr
    from fsspec.utils import infer_compression

    if compression == "infer":
        return infer_compression(path)
    if compression is not None and compression not in compr:
        names = ", ".join(sorted(k for k in compr if k))
        raise ValueError(
            f"unknown or unavailable compression {compression!r}; available: {names} "
            "(zstd needs the zstandard package)"
        )
    return compression


class ReadText(BagExpr):
    """Partitions read from text files: partition ``i`` is the lines that
    ``reads[i] = (reader, *args)`` yields (``read_file_lines``,
    ``read_block_lines`` or ``read_files_lines`` over ``fs``). ``ukeys``
    (the files' modification keys) make a changed file a new plan."""

    fs: Any
    reads: tuple
    ukeys: tuple

    def _numblocks(self) -> tuple:
        return (len(self.reads),)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        reader, *args = self.reads[index[0]]
        return Task(reader, self.fs, *args)

    def _explain_args(self) -> str:
        return f"npartitions={len(self.reads)}"


def read_text(
    urlpath: Any,
    blocksize: Any = None,
    compression: str | None = "infer",
    encoding: str = "utf-8",
    errors: str = "strict",
    linedelimiter: str = "\n",
    include_path: bool = False,
    storage_options: dict | None = None,
    files_per_partition: int | None = None,
) -> Bag:
    """A bag of the lines of text files (see the module docstring).

    ``urlpath``: a path or URL, a glob, a directory, or a list of them.
    ``blocksize`` (bytes or a string like ``"64MiB"``) splits uncompressed
    files; ``compression`` is inferred from the extension (gzip, bz2, xz,
    zstd) or given. ``include_path=True`` makes elements ``(line, path)``.
    ``files_per_partition=n`` reads ``n`` whole files (in order) per
    partition instead of one; it cannot be combined with ``blocksize``.

    >>> import fsspec
    >>> fsspec.filesystem("memory").pipe("/doc-read.txt", b"one\\ntwo\\n")
    >>> read_text("memory://doc-read.txt").str.strip().compute(scheduler="sync")
    ['one', 'two']
    """
    if not isinstance(linedelimiter, str) or not linedelimiter:
        raise ValueError(f"read_text: linedelimiter must be a non-empty str, got {linedelimiter!r}")
    codecs.lookup(encoding)
    codecs.lookup_error(errors)
    if files_per_partition is not None:
        if (
            isinstance(files_per_partition, bool)
            or not isinstance(files_per_partition, int)
            or files_per_partition < 1
        ):
            raise ValueError(
                f"read_text: files_per_partition must be a positive int, got "
                f"{files_per_partition!r}"
            )
        if blocksize is not None:
            raise ValueError(
                "read_text: give blocksize (split files) or files_per_partition (group whole "
                f"files), not both; got blocksize={blocksize!r}, "
                f"files_per_partition={files_per_partition!r}"
            )
    fs, paths = _expand_paths(urlpath, storage_options)
    if files_per_partition is not None:
        return _read_file_groups(
            fs,
            paths,
            files_per_partition,
            compression,
            encoding,
            errors,
            linedelimiter,
            include_path,
        )
    size = None if blocksize is None else parse_bytes(blocksize)
    if size is not None and size < 1:
        raise ValueError(f"read_text: blocksize must be positive, got {blocksize!r}")
    if size is not None and linedelimiter.encode(encoding) != linedelimiter.encode("utf-8"):
        raise ValueError(
            f"read_text: blocksize needs an ASCII-compatible encoding to find line boundaries "
            f"in bytes; {encoding!r} is not. Use blocksize=None"
        )
    reads: list = []
    part_paths: list[str] = []
    for path in paths:
        comp = _compression_of(path, compression)
        if size is None:
            reads.append((read_file_lines, path, comp, encoding, errors, linedelimiter))
            part_paths.append(path)
            continue
        if comp is not None:
            raise ValueError(
                f"read_text: cannot split the {comp}-compressed file {path!r} into blocks "
                "(its bytes cannot be cut at line boundaries); use blocksize=None"
            )
        for start, end in even_blocks(fs.size(path), size):
            reads.append((read_block_lines, path, start, end, encoding, errors, linedelimiter))
            part_paths.append(path)
    plan = ReadText(fs, tuple(reads), tuple(fs.ukey(p) for p in paths))
    if include_path:
        return Bag(WithPath(plan, tuple(part_paths)))
    return Bag(plan)


def _read_file_groups(
    fs: Any,
    paths: list[str],
    per: int,
    compression: str | None,
    encoding: str,
    errors: str,
    delimiter: str,
    include_path: bool,
) -> Bag:
    """``read_text(files_per_partition=per)``: ``per`` whole files a partition."""
    comps = [_compression_of(p, compression) for p in paths]
    reads = tuple(
        (
            read_files_lines,
            paths[i : i + per],
            comps[i : i + per],
            encoding,
            errors,
            delimiter,
            include_path,
        )
        for i in range(0, len(paths), per)
    )
    return Bag(ReadText(fs, reads, tuple(fs.ukey(p) for p in paths)))


# ------------------------------------------------------------------ output


def write_lines(it: Iterable, fs: Any, path: str, compression: str | None, encoding: str) -> str:
    """Write string elements to ``path``, one per line (an element that
    already ends with a newline gets no other); returns the path.

    >>> import fsspec
    >>> fs = fsspec.filesystem("memory")
    >>> write_lines(["a", "b\\n"], fs, "/doc-out/x.txt", None, "utf-8")
    '/doc-out/x.txt'
    >>> fs.cat("/doc-out/x.txt")
    b'a\\nb\\n'
    """
    parent = fs._parent(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    encode = codecs.getincrementalencoder(encoding)().encode
    with fs.open(path, "wb", compression=compression) as f:
        batch: list[str] = []
        for x in it:
            if type(x) is not str:
                raise TypeError(
                    f"to_textfiles: elements must be str, got {type(x).__name__}: {x!r:.80}; "
                    "map(str) (or json.dumps) first"
                )
            batch.append(x if x.endswith("\n") else x + "\n")
            if len(batch) >= 4096:
                f.write(encode("".join(batch)))
                batch.clear()
        f.write(encode("".join(batch), final=True))
    return path


def to_textfiles(
    bag: Bag,
    path: Any,
    name_function: Callable | None = None,
    compression: str | None = "infer",
    encoding: str = "utf-8",
    compute: bool = True,
    storage_options: dict | None = None,
    **kwargs: Any,
) -> Any:
    """``Bag.to_textfiles`` (see there).

    >>> import shoal.bag as sb
    >>> to_textfiles(sb.from_sequence(["x"]), "memory://doc-tf/*.txt", scheduler="sync")
    ['/doc-tf/0.txt']
    """
    import fsspec

    from shoal.bag.outputs import to_delayed

    fs, _, paths = fsspec.get_fs_token_paths(
        path,
        mode="wb",
        num=bag.npartitions,
        name_function=name_function,
        storage_options=storage_options or {},
    )
    if len(paths) != bag.npartitions:
        raise ValueError(
            f"to_textfiles: got {len(paths)} paths for a bag of {bag.npartitions} partitions"
        )
    writes = tuple((fs, p, _compression_of(p, compression), encoding) for p in paths)
    out = Bag(Consume(bag.expr, write_lines, "to-textfiles", writes))
    if not compute:
        return to_delayed(out, optimize_graph=True)
    (written,) = compute_collections(Parts(out), **kwargs)
    return written
