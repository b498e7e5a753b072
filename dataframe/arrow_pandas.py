"""Arrow tables, each with a mask of the rows to keep, into one pandas frame.

Arrow's filter kernel followed by ``to_pandas`` costs about twice what NumPy
takes for the same rows, so numbers and timestamps without nulls skip arrow
here: each chunk is viewed as a NumPy array without copying, masked by
NumPy, and the pieces glued (a partition of one chunk is copied only once).
Dictionary columns wanted as categoricals (without nulls) become a pandas
``Categorical`` straight from their masked indices, remapped where row groups
have dictionaries in other orders. Every other column (strings, booleans,
nulls, nested types, ...) takes arrow's own ``filter`` and ``to_pandas``, so
the result is exactly what ``concat_tables`` of the filtered tables and
``to_pandas(split_blocks=True)`` give (the tests compare the two).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["masked_to_pandas"]


def _is_plain_number(typ: pa.DataType) -> bool:
    """Types whose null-free chunks view as NumPy arrays of the dtype
    ``to_pandas`` gives."""
    if pa.types.is_integer(typ):
        return True
    if pa.types.is_floating(typ):
        return not pa.types.is_float16(typ)
    return pa.types.is_timestamp(typ) and typ.tz is None


def _code_dtype(ncategories: int) -> np.dtype:
    """The codes dtype pandas gives a Categorical of ``ncategories``."""
    for dtype in (np.int8, np.int16, np.int32):
        if ncategories < np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _glue(arrays: list, empty: np.ndarray) -> np.ndarray:
    if not arrays:
        return empty
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _pieces(columns: list, masks: list):
    """``(chunk, mask of its rows or None)`` of the chunks of ``columns``,
    without those the mask empties (as arrow's ``filter`` drops them, and
    their dictionaries with them)."""
    for column, mask in zip(columns, masks):
        start = 0
        for chunk in column.chunks:
            stop = start + len(chunk)
            if mask is None:
                yield chunk, None
            elif mask[start:stop].any():
                yield chunk, mask[start:stop]
            start = stop


def _numbers(columns: list, masks: list, typ: pa.DataType) -> np.ndarray:
    out = []
    for chunk, mask in _pieces(columns, masks):
        values = chunk.to_numpy(zero_copy_only=True)
        out.append(values if mask is None else values[mask])
    return _glue(out, pa.array([], typ).to_numpy())


def _categorical(columns: list, masks: list, typ: pa.DataType) -> pd.Categorical | None:
    """The rows as a pandas Categorical when no chunk has nulls, else None.
    The categories are the chunks' dictionaries unified as arrow unifies
    them (each value where it is first seen), so the result is the one
    ``to_pandas`` gives."""
    pieces = list(_pieces(columns, masks))
    if not pieces or any(c.null_count for c, _ in pieces):
        return None
    first = pieces[0][0].dictionary
    if not all(c.dictionary.equals(first) for c, _ in pieces[1:]):
        # arrow remaps the chunks' indices to one dictionary many times faster than NumPy
        unified = pa.chunked_array([c for c, _ in pieces], typ).unify_dictionaries()
        pieces = [(c, mask) for c, (_, mask) in zip(unified.chunks, pieces)]
    categories = pieces[0][0].dictionary
    if categories.null_count or not len(categories):  # arrow types no categories as object
        return None
    code_dtype = _code_dtype(len(categories))
    codes = []
    for chunk, mask in pieces:
        chunk_codes = chunk.indices.to_numpy(zero_copy_only=True).astype(code_dtype, copy=False)
        codes.append(chunk_codes if mask is None else chunk_codes[mask])
    dtype = pd.CategoricalDtype(pd.Index(categories.to_pandas()), ordered=typ.ordered)
    return pd.Categorical.from_codes(
        _glue(codes, np.empty(0, code_dtype)), dtype=dtype, validate=False
    )


def _arrow_column(columns: list, masks: list, typ: pa.DataType, categorical: bool):
    """The kept rows through arrow: dictionaries decoded to their values,
    except ``categorical`` columns, which are dictionary-encoded if not yet."""
    chunks = []
    for chunk, mask in _pieces(columns, masks):
        chunks.append(chunk if mask is None else chunk.filter(pa.array(mask)))
    column = pa.chunked_array(chunks, typ)
    is_dict = pa.types.is_dictionary(typ)
    if categorical and not is_dict:
        return pc.dictionary_encode(column)
    if not categorical and is_dict:
        return column.cast(typ.value_type)
    return column


def _kept(table: pa.Table, mask) -> int:
    return table.num_rows if mask is None else int(np.count_nonzero(mask))


def masked_to_pandas(
    tables: list[pa.Table],
    masks: list[np.ndarray | None],
    schema: pa.Schema,
    categorical: Iterable[str] = (),
) -> pd.DataFrame:
    """The rows of ``tables`` (all of ``schema``) that their ``masks`` keep
    (a boolean NumPy array per table, or None to keep all) as one pandas
    frame with a default index. Dictionary columns come back as plain
    values, except ``categorical`` ones, which come back as categoricals.

    >>> t = pa.table({"x": [1.5, 2.5, 3.5], "s": ["a", "b", "a"]})
    >>> masked_to_pandas([t, t], [np.array([True, False, True]), None], t.schema)
         x  s
    0  1.5  a
    1  3.5  a
    2  1.5  a
    3  2.5  b
    4  3.5  a
    """
    wanted = set(categorical)
    out: dict = {}
    rest: dict = {}
    for i, field in enumerate(schema):
        columns = [t.column(i) for t in tables]
        typ = field.type
        nulls = any(c.null_count for c in columns)
        if _is_plain_number(typ) and not nulls and tables:
            out[field.name] = _numbers(columns, masks, typ)
            continue
        if field.name in wanted and pa.types.is_dictionary(typ):
            values = _categorical(columns, masks, typ)
            if values is not None:
                out[field.name] = values
                continue
        rest[field.name] = _arrow_column(columns, masks, typ, field.name in wanted)
    if rest:
        converted = pa.table(rest).to_pandas(split_blocks=True)
        out.update({name: converted[name] for name in rest})
    if not out:  # as arrow gives a table of no columns
        rows = pd.RangeIndex(sum(_kept(t, m) for t, m in zip(tables, masks)))
        return pd.DataFrame(index=rows, columns=pd.Index([], dtype=object))
    return pd.DataFrame({name: out[name] for name in schema.names}, copy=False)
