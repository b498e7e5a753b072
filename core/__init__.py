"""shoal.core: the engine every collection and backend shares.

Imports nothing else from shoal, and neither numpy nor pandas.
"""

from shoal.core.task import Fused, Ref, Task

__all__ = ["Task", "Ref", "Fused"]
