"""shoal.bag: partitioned collections of Python objects (see docs/bag.md)."""
