"""shoal.array: blocked NumPy-like arrays (see docs/array.md)."""
