"""Task graphs as graphviz drawings.

``to_dot`` writes graphviz source with no dependency; ``render`` turns it into
an image through the optional ``graphviz`` package (extra ``viz``) and the
``dot`` program.

What a node shows is what a person reads in a progress bar: the key's prefix
(``sum-aggregate``, ``read-parquet``, ``inc``), never its hash, followed by the
block index for block keys. Tasks are boxes, data nodes ellipses; a task made
by linear-chain fusion says how many tasks it holds and which kinds. The full
key stays available as the node's tooltip (shown on hover in SVG output).
``color="order"`` fills each node by its static priority (``core/order.py``):
dark runs first, bright last, so the drawing shows which branch the
scheduler finishes before starting the next.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from shoal.core.order import order_keys
from shoal.core.task import Fused, Task, dependencies_of
from shoal.core.utils import key_prefix

__all__ = ["to_dot", "render", "node_label", "COLORINGS"]

COLORINGS = (None, "order")

# Stops of a dark-blue-to-yellow ramp that stays readable when printed in grey.
_RAMP = (
    (0x44, 0x01, 0x54),
    (0x3B, 0x52, 0x8B),
    (0x21, 0x91, 0x8C),
    (0x5E, 0xC9, 0x62),
    (0xFD, 0xE7, 0x25),
)


def _ramp_color(fraction: float) -> str:
    """The ``#rrggbb`` color at ``fraction`` (0..1) along the ramp."""
    position = min(max(fraction, 0.0), 1.0) * (len(_RAMP) - 1)
    low = min(int(position), len(_RAMP) - 2)
    t = position - low
    rgb = (round(a + (b - a) * t) for a, b in zip(_RAMP[low], _RAMP[low + 1]))
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _with_index(key: Any) -> str:
    prefix = key_prefix(key)
    if type(key) is tuple and len(key) > 1:
        return f"{prefix} ({', '.join(map(str, key[1:]))})"
    return prefix


def node_label(key: Any, node: Any) -> str:
    """The text drawn for ``key``: its prefix and block index, no hash.

    >>> from shoal.core.task import Task, Ref, Fused
    >>> node_label(("sum-aggregate-3f2a9c1e0b7d4e5f", 0, 1), Task(sum, [1]))
    'sum-aggregate (0, 1)'
    >>> inner = [("inc-5d41402a", Task(abs, 1)), ("double-7e2b01ff", Task(abs, Ref("inc-5d41402a")))]
    >>> node_label("double-7e2b01ff", Fused("double-7e2b01ff", inner))
    'double\\nfused(2): inc, double'
    """
    label = _with_index(key)
    if type(node) is Fused:
        kinds = list(dict.fromkeys(key_prefix(k) for k, _ in node.tasks))
        shown = ", ".join(kinds[:3]) + (", ..." if len(kinds) > 3 else "")
        label += f"\nfused({len(node.tasks)}): {shown}"
    return label


def _quote(text: str) -> str:
    """A dot string; a newline in ``text`` becomes a line break in the drawing."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _check_color(color: str | None) -> None:
    if color not in COLORINGS:
        raise ValueError(
            f"color={color!r} is not a known coloring; expected one of {COLORINGS} "
            "('order' fills nodes by the order the scheduler runs them)"
        )


def to_dot(
    graph: Mapping[Any, Any],
    rankdir: str = "BT",
    color: str | None = None,
    outputs: Iterable[Any] | None = None,
) -> str:
    """Graphviz source for ``graph``.

    ``color="order"`` fills nodes by static priority, starting the walk from
    ``outputs`` (the keys wanted) as a computation would.

    >>> from shoal.core.task import Task, Ref
    >>> print(to_dot({"a": 1, "b": Task(abs, Ref("a"))}))
    digraph {
      rankdir=BT;
      n0 [label="a", shape=ellipse, tooltip="'a'"];
      n1 [label="b", shape=box, tooltip="'b'"];
      n0 -> n1;
    }
    >>> "fillcolor" in to_dot({"a": 1, "b": Task(abs, Ref("a"))}, color="order")
    True
    """
    _check_color(color)
    if rankdir not in ("TB", "BT", "LR", "RL"):
        raise ValueError(f"rankdir must be one of 'TB', 'BT', 'LR', 'RL', got {rankdir!r}")
    ids = {k: f"n{i}" for i, k in enumerate(graph)}
    fills: dict[Any, tuple[str, str]] = {}  # key -> (fill, font color)
    if color == "order" and graph:
        ranked = order_keys(graph, outputs)
        last = max(len(ranked) - 1, 1)
        for i, k in enumerate(ranked):
            fills[k] = (_ramp_color(i / last), "white" if i / last < 0.6 else "black")
    lines = ["digraph {", f"  rankdir={rankdir};"]
    for k, node in graph.items():
        shape = "box" if type(node) in (Task, Fused) else "ellipse"
        attrs = f"label={_quote(node_label(k, node))}, shape={shape}, tooltip={_quote(repr(k))}"
        if k in fills:
            fill, font = fills[k]
            attrs += f', style=filled, fillcolor="{fill}", fontcolor={font}'
        lines.append(f"  {ids[k]} [{attrs}];")
    for k, node in graph.items():
        for d in dependencies_of(node):
            if d in ids:
                lines.append(f"  {ids[d]} -> {ids[k]};")
    lines.append("}")
    return "\n".join(lines)


def render(
    graph: Mapping[Any, Any],
    filename: str | None = "shoal-graph",
    format: str | None = None,
    **kwargs: Any,
) -> Any:
    """Write ``graph`` as an image (or ``.dot`` source) and return it.

    The format comes from ``format=``, else from the file name's extension,
    else ``png``. With ``filename=None`` nothing is written and the dot source
    is returned; ``.dot`` files need nothing installed. ``kwargs`` go to
    ``to_dot`` (``rankdir``, ``color``, ``outputs``).

    >>> render({"a": 1}, filename=None).startswith("digraph")
    True
    """
    source = to_dot(graph, **kwargs)
    if filename is None:
        return source
    root, ext = os.path.splitext(filename)
    fmt = (format or (ext[1:] if ext else "png")).lower()
    if fmt == "dot":
        with open(root + ".dot", "w") as f:
            f.write(source)
        return source
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "drawing task graphs needs the graphviz package and program: "
            "pip install 'shoal[viz]' (and the 'dot' program), or use a .dot filename"
        ) from None
    if fmt not in graphviz.FORMATS:
        raise ValueError(
            f"graphviz cannot write format {fmt!r}; use one of png, svg, pdf, dot "
            "(or another of graphviz.FORMATS)"
        )
    src = graphviz.Source(source, format=fmt)
    try:
        src.render(root, cleanup=True)
    except graphviz.ExecutableNotFound:
        raise RuntimeError(
            f"drawing a {fmt} image needs graphviz's 'dot' program on the PATH "
            "(e.g. apt install graphviz); or use a .dot filename, which needs nothing"
        ) from None
    return src
