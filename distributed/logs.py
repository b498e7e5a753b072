"""The recent log lines of this process, for ``Client.get_worker_logs``,
``Client.get_scheduler_logs`` and ``LocalCluster.get_logs``.

``capture_logs()`` (called by every scheduler and worker) keeps the last
``distributed.admin.log-length`` records of the ``shoal`` loggers, INFO and
above, in a ring buffer; ``get_logs`` returns them as ``(level, line)``.
Workers sharing a process (``LocalCluster(processes=False)``) share it.

>>> import logging
>>> capture_logs()
>>> logging.getLogger("shoal.distributed.demo").warning("hello")
>>> get_logs(None, n=1)[0][0], get_logs(None, n=1)[0][1].endswith("hello")
('WARNING', True)
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from shoal.core import config

__all__ = ["capture_logs", "get_logs"]

config.update_defaults(
    {"distributed": {"admin": {"log-length": 10_000}}},
    {
        "distributed.admin.log-length": "Log lines each scheduler and worker process keeps for "
        "Client.get_worker_logs / get_scheduler_logs."
    },
)

_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
_lock = threading.Lock()
_handler: _RingHandler | None = None


class _RingHandler(logging.Handler):
    def __init__(self, length: int):
        super().__init__(logging.INFO)
        self.lines: deque = deque(maxlen=length)
        self.setFormatter(logging.Formatter(_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append((record.levelname, self.format(record)))
        except Exception:
            self.handleError(record)


def capture_logs() -> None:
    """Start keeping this process's ``shoal`` log lines (once per process)."""
    global _handler
    with _lock:
        if _handler is not None:
            return
        _handler = _RingHandler(int(config.get("distributed.admin.log-length")))
        logger = logging.getLogger("shoal")
        logger.addHandler(_handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)


def get_logs(comm: Any = None, n: int | None = None) -> list[tuple[str, str]]:
    """The last ``n`` (all if None) kept log lines, oldest first, as ``(level, line)``."""
    if _handler is None:
        return []
    lines = list(_handler.lines)
    return lines[-n:] if n else lines
