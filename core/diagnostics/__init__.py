"""Diagnostics for local computations: callbacks, progress bar, profilers."""

from shoal.core.diagnostics.callbacks import Callback, active_callbacks
from shoal.core.diagnostics.profile import Profiler, ResourceProfiler
from shoal.core.diagnostics.progress import ProgressBar

__all__ = ["Callback", "ProgressBar", "Profiler", "ResourceProfiler", "active_callbacks"]
