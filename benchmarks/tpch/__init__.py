"""TPC-H: the 22 queries written as a pandas / dask.dataframe user writes them
(``queries.py``), the same queries in SQL for DuckDB (``sql.py``), the data
(``data.py``, from ``tpchgen-cli``) and result comparison (``compare.py``)."""
