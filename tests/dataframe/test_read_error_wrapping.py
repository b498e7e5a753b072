"""Readers name the file in parse errors by wrapping the cause (issue 13)."""

import pandas as pd
import pytest

import shoal.dataframe as sd


@pytest.mark.parametrize("blocksize", [None, 8])
def test_non_utf8_csv_names_the_file_and_keeps_the_cause(tmp_path, blocksize):
    path = tmp_path / "latin.csv"
    path.write_bytes("a,b\n1,caf\xe9\n2,x\n".encode("latin-1"))
    with pytest.raises(ValueError) as info:
        sd.read_csv(str(path), blocksize=blocksize, dtype={"a": int, "b": object}).compute(
            scheduler="sync"
        )
    assert "latin.csv" in str(info.value) and "UnicodeDecodeError" in str(info.value)
    assert isinstance(info.value.__cause__, UnicodeDecodeError)
    # the oracle: pandas reads it with the right encoding
    ours = sd.read_csv(str(path), blocksize=blocksize, encoding="latin-1").compute(scheduler="sync")
    pd.testing.assert_frame_equal(
        ours.reset_index(drop=True), pd.read_csv(path, encoding="latin-1")
    )


def test_non_utf8_json_names_the_file_and_keeps_the_cause(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes('{"a": 1, "b": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(ValueError) as info:
        sd.read_json(str(path), lines=True).compute(scheduler="sync")
    assert "latin.json" in str(info.value)
    assert info.value.__cause__ is not None
