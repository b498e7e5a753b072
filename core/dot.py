"""Task graphs as graphviz drawings.

``to_dot`` writes graphviz source with no dependency; ``render`` turns it into
an image through the optional ``graphviz`` package (extra ``viz``) and the
``dot`` program. Tasks are boxes labelled by their function, data nodes are
ellipses labelled by their key prefix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from shoal.core.task import Fused, Task, dependencies_of
from shoal.core.utils import key_prefix

__all__ = ["to_dot", "render"]


def _label(node: Any, key: Any) -> str:
    if type(node) is Task:
        return getattr(node.func, "__name__", type(node.func).__name__)
    if type(node) is Fused:
        return f"fused({len(node.tasks)})"
    return key_prefix(key)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: Mapping[Any, Any], rankdir: str = "BT") -> str:
    """Graphviz source for ``graph``.

    >>> from shoal.core.task import Task, Ref
    >>> print(to_dot({"a": 1, "b": Task(abs, Ref("a"))}))
    digraph {
      rankdir=BT;
      n0 [label="a", shape=ellipse];
      n1 [label="abs", shape=box];
      n0 -> n1;
    }
    """
    ids = {k: f"n{i}" for i, k in enumerate(graph)}
    lines = ["digraph {", f"  rankdir={rankdir};"]
    for k, node in graph.items():
        shape = "box" if type(node) in (Task, Fused) else "ellipse"
        lines.append(f"  {ids[k]} [label={_quote(_label(node, k))}, shape={shape}];")
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

    With ``filename=None`` nothing is written and the dot source is returned.

    >>> render({"a": 1}, filename=None).startswith("digraph")
    True
    """
    source = to_dot(graph, **kwargs)
    if filename is None:
        return source
    root, ext = os.path.splitext(filename)
    fmt = format or (ext[1:] if ext else "png")
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
    src = graphviz.Source(source, format=fmt)
    try:
        src.render(root, cleanup=True)
    except graphviz.ExecutableNotFound:
        raise RuntimeError(
            f"drawing a {fmt} image needs graphviz's 'dot' program on the PATH "
            "(e.g. apt install graphviz); or use a .dot filename, which needs nothing"
        ) from None
    return src
