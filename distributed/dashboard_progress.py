"""``progress``: a live progress bar of futures, in a terminal or a notebook.

Takes futures, lists or dicts of them, and collections backed by futures
(``client.persist(...)``); blocks until they are all done, redrawing a bar
every ``interval`` seconds: one line rewritten in place in a terminal, an
HTML bar updated in place in a Jupyter notebook.

>>> import io
>>> from shoal.distributed import Client
>>> with Client(n_workers=1, processes=False) as c:
...     out = io.StringIO()
...     progress([c.submit(abs, -i) for i in range(4)], file=out)
...     print(out.getvalue().rsplit("\\r", 1)[-1].split("|")[1].strip())
100% Completed
"""

from __future__ import annotations

import html
import sys
import time
from typing import Any, TextIO

from shoal.distributed.future import Future

__all__ = ["progress", "futures_in"]

WIDTH = 40


def futures_in(objects: tuple[Any, ...]) -> list[Future]:
    """The futures among ``objects``: futures, lists, tuples, sets and dicts
    of futures, and collections backed by futures (persisted ones).

    >>> futures_in(())
    []
    """
    out: list[Future] = []
    for obj in objects:
        if isinstance(obj, Future):
            out.append(obj)
        elif isinstance(obj, dict):
            out.extend(futures_in(tuple(obj.values())))
        elif isinstance(obj, (list, tuple, set, frozenset)):
            out.extend(futures_in(tuple(obj)))
        elif hasattr(obj, "__shoal_graph__"):
            found = [v for v in obj.__shoal_graph__().values() if isinstance(v, Future)]
            if not found:
                raise ValueError(
                    f"{type(obj).__name__} is not computing on a cluster: persist it first "
                    "(x = client.persist(x)), then call progress(x)"
                )
            out.extend(found)
        else:
            raise TypeError(
                f"progress takes futures and collections persisted on a cluster, "
                f"got {type(obj).__name__}"
            )
    return out


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()  # type: ignore[attr-defined]
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _text(done: int, erred: int, total: int, elapsed: float) -> str:
    frac = done / total if total else 1.0
    filled = int(WIDTH * frac)
    text = f"[{'#' * filled}{' ' * (WIDTH - filled)}] | {frac:4.0%} Completed | {elapsed:5.1f}s"
    return text + (f" | {erred} erred" if erred else "")


def _html(done: int, erred: int, total: int, elapsed: float) -> str:
    frac = done / total if total else 1.0
    color = "#d24b4b" if erred else "#3a9d5d"
    return (
        f'<div style="font-family:monospace"><div style="display:inline-block;width:300px;'
        f'height:12px;background:#eee;vertical-align:middle"><div style="width:{frac:.1%};'
        f'height:100%;background:{color}"></div></div> {html.escape(_text(done, erred, total, elapsed).split("]", 1)[1])}</div>'
    )


def progress(
    *objects: Any,
    notebook: bool | None = None,
    interval: float = 0.1,
    file: TextIO | None = None,
) -> None:
    """Show the progress of ``objects`` (futures, lists or dicts of them,
    persisted collections) until all are done (finished, erred or
    cancelled). ``notebook``: draw an HTML bar (default: when running in a
    Jupyter kernel); ``file``: where the terminal bar goes (stdout)."""
    futures = futures_in(objects)
    if interval <= 0:
        raise ValueError(f"interval should be a positive number of seconds, got {interval}")
    if any(f.client.asynchronous for f in futures):
        raise ValueError(
            "progress blocks until the futures are done, which an asynchronous client's "
            "event loop cannot: await shoal.distributed.wait(futures) instead"
        )
    notebook = _in_notebook() if notebook is None else notebook
    out = sys.stdout if file is None else file
    total = len({f.key for f in futures})
    pending = list({f.key: f for f in futures}.values())
    start = time.monotonic()
    handle = None
    if notebook:
        from IPython.display import HTML, display  # type: ignore[import-not-found]

        handle = display(HTML(_html(0, 0, total, 0.0)), display_id=True)
    erred = 0
    while True:
        still = [f for f in pending if not f.done()]
        erred += sum(1 for f in pending if f.done() and f.status != "finished")
        pending = still
        elapsed = time.monotonic() - start
        done = total - len(pending)
        if handle is not None:
            handle.update(HTML(_html(done, erred, total, elapsed)))
        else:
            out.write("\r" + _text(done, erred, total, elapsed))
            out.flush()
        if not pending:
            break
        time.sleep(interval)
    if handle is None:
        out.write("\n")
        out.flush()
