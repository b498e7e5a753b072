"""shoal.dataframe: partitioned pandas-like dataframes (see docs/dataframe.md).

>>> import pandas as pd
>>> import shoal.dataframe as sd
>>> df = sd.from_pandas(pd.DataFrame({"k": list("abab"), "v": [1, 2, 3, 4]}), npartitions=2)
>>> df.groupby("k").v.sum().compute().to_dict()
{'a': 4, 'b': 6}
"""

from shoal.dataframe import checks as _checks  # noqa: F401  (registers the assert_eq checker)
from shoal.dataframe.arrays import from_array, from_dask_array
from shoal.dataframe.collection import new_collection
from shoal.dataframe.concatenate import concat  # shuffles, joins, sorting
from shoal.dataframe.convert import to_datetime
from shoal.dataframe.csv import read_csv, to_csv
from shoal.dataframe.frame import DataFrame
from shoal.dataframe.groupby import Aggregation
from shoal.dataframe.io import from_delayed, from_dict, from_map, from_pandas
from shoal.dataframe.json import read_json, to_json
from shoal.dataframe.merge import merge
from shoal.dataframe.merge_asof import merge_asof
from shoal.dataframe.meta import MetaInferenceError
from shoal.dataframe.parquet import read_parquet, to_parquet
from shoal.dataframe.reshape import crosstab, get_dummies, melt, pivot_table
from shoal.dataframe.series import Index, Scalar, Series

__all__ = [
    "DataFrame",
    "Series",
    "Index",
    "Scalar",
    "Aggregation",
    "MetaInferenceError",
    "new_collection",
    "from_pandas",
    "from_dict",
    "from_delayed",
    "from_map",
    "from_array",
    "from_dask_array",
    "read_parquet",
    "to_parquet",
    "read_csv",
    "to_csv",
    "read_json",
    "to_json",
    # shuffles, joins, sorting
    "merge",
    "merge_asof",
    "concat",
    # time series and reshaping
    "pivot_table",
    "crosstab",
    "get_dummies",
    "melt",
    "to_datetime",
]
