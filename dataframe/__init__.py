"""shoal.dataframe: partitioned pandas-like dataframes (see docs/dataframe.md)."""
