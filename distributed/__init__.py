"""shoal.distributed: central scheduler, workers and clients over TCP (see docs/distributed.md)."""
