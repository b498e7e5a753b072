"""read_text and to_textfiles: every line exactly once, whatever the blocks."""

import bz2
import collections
import gzip
import lzma
import os
import random

import fsspec
import pytest

import shoal
import shoal.bag as sb
from shoal.testing import assert_eq


def split_keep(text, delim="\n"):
    pieces = text.split(delim)
    last = pieces.pop()
    return [p + delim for p in pieces] + ([last] if last else [])


def random_text(rng, nlines, max_len, trailing_newline=True, delim="\n"):
    alphabet = "abcdefé€𝄞 \t\r"
    lines = [
        "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, rng.randint(0, max_len)])))
        for _ in range(nlines)
    ]
    text = delim.join(lines)
    return text + delim if trailing_newline and lines else text


def test_blocks_never_lose_or_repeat_a_line(tmp_path):
    rng = random.Random(42)
    for trial in range(40):
        nlines = rng.choice([0, 1, 2, 5, 40, 300])
        text = random_text(rng, nlines, rng.choice([3, 30, 200]), rng.random() < 0.7)
        path = tmp_path / f"f{trial}.txt"
        path.write_bytes(text.encode())
        size = max(len(text.encode()), 1)
        small = {1, 2} if size < 3000 else set()
        for blocksize in small | {3, 7, rng.randint(1, size), size // 2 or 1, size, size + 5}:
            b = sb.read_text(str(path), blocksize=blocksize)
            assert b.npartitions == max(1, -(-len(text.encode()) // blocksize))
            assert_eq(b, split_keep(text)), (trial, blocksize)


@pytest.mark.parametrize("delim", ["\r\n", "<>", ";"])
def test_blocks_with_other_delimiters(tmp_path, monkeypatch, delim):
    from shoal.bag import text as text_mod

    monkeypatch.setattr(text_mod, "_CHUNK", 7)  # delimiters and characters cut between reads
    rng = random.Random(7)
    for trial in range(15):
        text = random_text(rng, rng.randint(0, 80), 20, rng.random() < 0.5, delim=delim)
        text = text.replace("\r\r", "\r")
        path = tmp_path / f"d{trial}.txt"
        path.write_bytes(text.encode())
        assert_eq(sb.read_text(str(path), linedelimiter=delim), split_keep(text, delim))
        for blocksize in (1, 2, 5, 64, 1000):
            b = sb.read_text(str(path), blocksize=blocksize, linedelimiter=delim)
            assert_eq(b, split_keep(text, delim))


def test_whole_files_stream_across_chunk_borders(tmp_path, monkeypatch):
    from shoal.bag import text as text_mod

    monkeypatch.setattr(text_mod, "_CHUNK", 5)  # decode and split across many small reads
    rng = random.Random(3)
    text = random_text(rng, 200, 40, trailing_newline=False)
    path = tmp_path / "a.txt"
    path.write_text(text, encoding="utf-8", newline="")
    assert_eq(sb.read_text(str(path)), split_keep(text))


@pytest.mark.parametrize("ext,opener", [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)])
def test_compression_by_extension_and_argument(tmp_path, ext, opener):
    lines = [f"line {i} é\n" for i in range(500)]
    for i in range(3):
        with opener(tmp_path / f"part{i}.txt{ext}", "wt", encoding="utf-8") as f:
            f.writelines(lines[i::3])
    b = sb.read_text(str(tmp_path / f"*.txt{ext}"))
    assert b.npartitions == 3
    assert_eq(b, lines[0::3] + lines[1::3] + lines[2::3])
    os.rename(tmp_path / f"part0.txt{ext}", tmp_path / "plain-name")
    compression = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz"}[ext]
    assert_eq(sb.read_text(str(tmp_path / "plain-name"), compression=compression), lines[0::3])
    with pytest.raises(ValueError, match=r"cannot split the .*compressed file .*part1"):
        sb.read_text(str(tmp_path / f"part1.txt{ext}"), blocksize=100)


def test_zstd(tmp_path):
    zstandard = pytest.importorskip("zstandard")
    lines = [f"{i}\n" for i in range(1000)]
    (tmp_path / "a.zst").write_bytes(zstandard.ZstdCompressor().compress("".join(lines).encode()))
    assert_eq(sb.read_text(str(tmp_path / "a.zst")), lines)


def test_paths_globs_dirs_include_path(tmp_path):
    (tmp_path / "d").mkdir()
    files = {}
    for name, n in (("a.log", 3), ("b.log", 0), ("d/c.log", 2)):
        files[name] = [f"{name}-{i}\n" for i in range(n)]
        (tmp_path / name).write_text("".join(files[name]))
    glob = sb.read_text(str(tmp_path / "*.log"))
    assert_eq(glob, files["a.log"] + files["b.log"])
    listed = sb.read_text([str(tmp_path / "d/c.log"), str(tmp_path / "a.log")], blocksize=4)
    assert_eq(listed, files["d/c.log"] + files["a.log"])
    whole_dir = sb.read_text(str(tmp_path / "d"))
    assert_eq(whole_dir, files["d/c.log"])
    with_path = sb.read_text(str(tmp_path / "*.log"), include_path=True, blocksize=5)
    got = with_path.compute(scheduler="sync")
    assert [line for line, _ in got] == files["a.log"] + files["b.log"]
    assert all(p.endswith(line.split("-")[0]) for line, p in got)


def test_encoding_and_errors(tmp_path):
    text = "naïve café\nzweite Zeile\n"
    (tmp_path / "l1.txt").write_bytes(text.encode("latin-1"))
    assert_eq(sb.read_text(str(tmp_path / "l1.txt"), encoding="latin-1"), split_keep(text))
    assert_eq(
        sb.read_text(str(tmp_path / "l1.txt"), encoding="latin-1", blocksize=3), split_keep(text)
    )
    with pytest.raises(UnicodeDecodeError):
        sb.read_text(str(tmp_path / "l1.txt")).compute(scheduler="sync")
    replaced = sb.read_text(str(tmp_path / "l1.txt"), errors="replace").compute(scheduler="sync")
    assert replaced == split_keep(text.encode("latin-1").decode("utf-8", "replace"))
    (tmp_path / "u16.txt").write_bytes(text.encode("utf-16"))
    assert_eq(sb.read_text(str(tmp_path / "u16.txt"), encoding="utf-16"), split_keep(text))
    with pytest.raises(ValueError, match="ASCII-compatible"):
        sb.read_text(str(tmp_path / "u16.txt"), encoding="utf-16", blocksize=10)


def test_memory_filesystem():
    fs = fsspec.filesystem("memory")
    fs.pipe("/bagtest/x.txt", b"1\n2\n3\n")
    fs.pipe("/bagtest/y.txt", b"4\n")
    b = sb.read_text("memory://bagtest/*.txt", blocksize=2).map(int)
    assert_eq(b, [1, 2, 3, 4])
    assert b.sum().compute(scheduler="threads") == 10


def test_missing_paths_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no files match .*nothing-here"):
        sb.read_text(str(tmp_path / "nothing-here*.txt"))
    with pytest.raises(FileNotFoundError, match="not found: .*absent.txt"):
        sb.read_text([str(tmp_path / "absent.txt")])
    with pytest.raises(ValueError, match="unknown or unavailable compression 'nope'"):
        (tmp_path / "x").write_text("a")
        sb.read_text(str(tmp_path / "x"), compression="nope")
    with pytest.raises(ValueError, match="blocksize"):
        sb.read_text(str(tmp_path / "x"), blocksize=0)


def test_to_textfiles_round_trip(tmp_path):
    lines = [f"row {i}" for i in range(25)]
    b = sb.from_sequence(lines, npartitions=4)
    paths = b.to_textfiles(str(tmp_path / "out" / "*.txt"), scheduler="sync")
    assert [os.path.basename(p) for p in paths] == [f"{i}.txt" for i in range(4)]
    assert_eq(sb.read_text(str(tmp_path / "out" / "*.txt")).str.rstrip("\n"), lines)
    # name_function, compression by extension, lines that already end in a newline
    paths = b.map(lambda s: s + "\n").to_textfiles(
        str(tmp_path / "gz" / "part-*.txt.gz"), name_function=lambda i: f"{i:03d}", scheduler="sync"
    )
    assert os.path.basename(paths[0]) == "part-000.txt.gz"
    assert gzip.open(paths[0], "rt").read().splitlines() == lines[:7]
    assert_eq(sb.read_text(str(tmp_path / "gz" / "*.gz")), [x + "\n" for x in lines])
    # a directory, explicit compression and encoding
    b.to_textfiles(str(tmp_path / "dir"), compression="bz2", encoding="utf-16", scheduler="sync")
    back = sb.read_text(str(tmp_path / "dir"), compression="bz2", encoding="utf-16")
    assert_eq(back.str.rstrip("\n"), lines)


def test_to_textfiles_lazy_and_errors(tmp_path):
    b = sb.from_sequence(["a", "b", "c"], npartitions=2)
    writes = b.to_textfiles(str(tmp_path / "lazy" / "*.txt"), compute=False)
    assert len(writes) == 2 and not (tmp_path / "lazy").exists()
    shoal.compute(*writes, scheduler="sync")
    assert (tmp_path / "lazy" / "1.txt").read_text() == "c\n"
    with pytest.raises(TypeError, match="elements must be str, got int"):
        sb.from_sequence([1]).to_textfiles(str(tmp_path / "bad" / "*.txt"), scheduler="sync")
    with pytest.raises(ValueError, match="2 paths for a bag of 3 partitions"):
        sb.range(3, npartitions=3).to_textfiles(["a", "b"])


def test_processes_scheduler_reads_files(tmp_path):
    (tmp_path / "p.txt").write_text("".join(f"{i}\n" for i in range(1000)))
    b = sb.read_text(str(tmp_path / "p.txt"), blocksize=700).map(int)
    assert b.npartitions > 3
    assert b.sum().compute() == sum(range(1000))  # the default scheduler: processes
    assert b.filter(lambda x: x % 7 == 0).count().compute() == len(range(0, 1000, 7))


def test_read_map_filter_frequencies_is_one_task_per_partition(tmp_path):
    import json

    from shoal.core.utils import key_prefix

    rows = [{"k": i % 5, "ok": i % 3 > 0} for i in range(3000)]
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    b = sb.read_text(str(tmp_path / "r.jsonl"), blocksize=2000)
    freq = b.map(json.loads).filter(lambda r: r["ok"]).pluck("k").frequencies(split_every=4)
    graph = freq.__shoal_graph__()
    prefixes = collections.Counter(key_prefix(k) for k in graph)
    n = b.npartitions
    assert n > 16
    levels = []
    width = n
    while width > 4:
        width = -(-width // 4)
        levels.append(width)
    combines = {f"frequencies-combine{i + 1}": width for i, width in enumerate(levels)}
    assert prefixes == {"frequencies-partial": n, **combines, "frequencies": 1}
    expected = collections.Counter(r["k"] for r in rows if r["ok"])
    assert_eq(freq, list(expected.items()), ordered=False)


@pytest.mark.parametrize("per", [1, 2, 3, 10])
def test_files_per_partition(tmp_path, per):
    rng = random.Random(per)
    names = [f"f{i}.txt" + ("" if i % 3 else ".gz") for i in range(7)]
    lines = {}
    for i, name in enumerate(names):
        text = random_text(rng, rng.choice([0, 1, 20]), 30, trailing_newline=i % 2 == 0)
        lines[name] = split_keep(text)
        data = text.encode()
        (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    order = sorted(names)
    b = sb.read_text(str(tmp_path / "f*"), files_per_partition=per)
    assert b.npartitions == -(-len(names) // per)
    # an unfinished last line stays its own line: files are never glued together
    assert_eq(b, [line for name in order for line in lines[name]])
    with_path = sb.read_text(str(tmp_path / "f*"), files_per_partition=per, include_path=True)
    expected = [(line, name) for name in order for line in lines[name]]
    got = with_path.compute(scheduler="processes")
    assert [(line, os.path.basename(p)) for line, p in got] == expected
    assert_eq(with_path.count(), len(expected))


def test_files_per_partition_bad_arguments(tmp_path):
    (tmp_path / "a.txt").write_text("a\n")
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="files_per_partition must be a positive int"):
            sb.read_text(str(tmp_path / "a.txt"), files_per_partition=bad)
    with pytest.raises(ValueError, match="not both"):
        sb.read_text(str(tmp_path / "a.txt"), files_per_partition=2, blocksize=10)
    with pytest.raises(FileNotFoundError, match="absent"):
        sb.read_text(str(tmp_path / "absent*.txt"), files_per_partition=2)
