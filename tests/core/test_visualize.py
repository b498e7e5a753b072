"""Graphs as people see them: ``Delayed.dask`` as a Mapping, ``visualize`` labels
(key prefixes, not hashes), coloring by static order, and rendering through
graphviz (skipped without the ``dot`` program; ``.dot`` output needs nothing)."""

import html
import re
import shutil
from collections.abc import Mapping

import pytest

import shoal
from shoal.core.base import collections_to_graph
from shoal.core.dot import _ramp_color, node_label, render, to_dot
from shoal.core.local import get_sync
from shoal.core.order import order_keys
from shoal.core.task import Fused, Ref, Task
from shoal.core.utils import key_prefix

HASH = re.compile(r"[0-9a-f]{8,}")


def inc(x):
    return x + 1


def add(x, y):
    return x + y


def nodes_of(source):
    """{node id: attributes text} of dot source written by to_dot."""
    return dict(re.findall(r"^  (n\d+) \[(.*)\];$", source, re.M))


def attribute(attrs, name):
    match = re.search(rf'{name}="((?:[^"\\]|\\.)*)"', attrs)
    return match.group(1) if match else None


def a_diamond():
    """
        total
        /   \\
     inc     inc        (impure: keys hold uuid hashes)
        \\   /
         one
    """
    one = shoal.delayed(1, name="one")
    return shoal.delayed(add)(shoal.delayed(inc)(one), shoal.delayed(inc)(one))


# ------------------------------------------------------------ .dask


def test_delayed_dask_is_the_graph_as_a_mapping():
    total = a_diamond()
    graph = total.dask
    assert isinstance(graph, Mapping) and not isinstance(graph, shoal.Delayed)
    as_dict = dict(graph)
    expected, _ = collections_to_graph([total], optimize_graph=False)
    assert as_dict.keys() == dict(expected).keys()
    assert len(as_dict) == 4 and "one" in as_dict and total.key in as_dict
    assert get_sync(as_dict, total.key) == total.compute() == 4
    assert "dask" in dir(total)
    assert dict(shoal.delayed(5, name="five").dask) == {"five": 5}


# ---------------------------------------------------------- labels


def test_labels_are_key_prefixes_and_block_indices():
    assert node_label(("sum-aggregate-3f2a9c1e0b7d4e5f", 0, 1), Task(sum, [1])) == (
        "sum-aggregate (0, 1)"
    )
    assert node_label("inc-" + "ab" * 16, Task(inc, 1)) == "inc"
    assert node_label(("x", 3), 7) == "x (3)"
    fused = Fused("c", [("x", Task(abs, Ref("b"))), ("c", Task(abs, Ref("x")))])
    assert node_label("c", fused) == "c\nfused(2): x, c"


def test_to_dot_draws_nodes_edges_and_shapes():
    graph = {
        "a": 1,
        ("b", 0): Task(abs, Ref("a")),
        "c": Fused("c", [("x", Task(abs, Ref(("b", 0)))), ("c", Task(abs, Ref("x")))]),
    }
    source = to_dot(graph)
    assert source.startswith("digraph {") and source.endswith("}")
    nodes = nodes_of(source)
    assert attribute(nodes["n0"], "label") == "a" and "shape=ellipse" in nodes["n0"]
    assert attribute(nodes["n1"], "label") == "b (0)" and "shape=box" in nodes["n1"]
    assert attribute(nodes["n2"], "label") == "c\\nfused(2): x, c"  # a line break in dot
    assert attribute(nodes["n1"], "tooltip") == "('b', 0)"  # the full key, on hover
    assert "n0 -> n1;" in source and "n1 -> n2;" in source
    assert "rankdir=LR" in to_dot(graph, rankdir="LR")
    assert render(graph, filename=None) == source


def test_to_dot_quotes_labels():
    source = to_dot({'we"ird\\': 1})
    assert 'label="we\\"ird\\\\"' in source


def test_array_and_delayed_graphs_show_no_hashes():
    import numpy as np

    import shoal.array as sa

    x = sa.from_array(np.arange(24.0).reshape(4, 6), chunks=(2, 3))
    total = (x + 1).sum()
    graph, _ = collections_to_graph([total], optimize_graph=False)
    source = shoal.visualize(total, filename=None)
    labels = [attribute(a, "label") for a in nodes_of(source).values()]
    assert len(labels) == len(graph)
    assert not any(HASH.search(label) for label in labels)
    for key, label in zip(graph, labels):
        assert label.startswith(key_prefix(key))
    assert {label.split(" (")[0] for label in labels} == {key_prefix(k) for k in graph}
    # impure delayed keys carry uuids; the drawing shows the function names
    diamond = shoal.visualize(a_diamond(), filename=None)
    labels = sorted(attribute(a, "label") for a in nodes_of(diamond).values())
    assert labels == ["add", "inc", "inc", "one"]


def test_optimized_drawing_shows_the_fused_chain():
    x = shoal.delayed(0, name="zero")
    for _ in range(5):
        x = shoal.delayed(inc)(x)
    plain = nodes_of(shoal.visualize(x, filename=None))
    assert sum("shape=box" in a for a in plain.values()) == 5
    fused = nodes_of(shoal.visualize(x, filename=None, optimize_graph=True))
    assert [attribute(a, "label") for a in fused.values()] == ["inc\\nfused(6): zero, inc"]


# ----------------------------------------------------------- color


@pytest.mark.parametrize("spelling", ["plain", "reversed"])
def test_color_by_order_follows_the_static_order(spelling):
    """A tree reduction of 8 leaves: the order finishes one branch before the
    next, and the fill goes dark to bright along that order. Checked under two
    key spellings, so sorting keys cannot make it pass."""
    name = (lambda i: f"leaf-{i}") if spelling == "plain" else (lambda i: f"z{9 - i}")
    graph = {name(i): i for i in range(8)}
    for j in range(4):
        graph[f"pair-{j}"] = Task(add, Ref(name(2 * j)), Ref(name(2 * j + 1)))
    graph["top"] = Task(sum, [Ref(f"pair-{j}") for j in range(4)])
    source = to_dot(graph, color="order", outputs=["top"])
    nodes = nodes_of(source)
    ids = {k: f"n{i}" for i, k in enumerate(graph)}
    ranked = order_keys(graph, ["top"])
    assert ranked.index("pair-0") < ranked.index(name(2))  # a branch finishes first
    for position, key in enumerate(ranked):
        assert attribute(nodes[ids[key]], "fillcolor") == _ramp_color(position / (len(ranked) - 1))
    assert attribute(nodes[ids[ranked[0]]], "fillcolor") == "#440154"  # dark runs first
    assert attribute(nodes[ids["top"]], "fillcolor") == "#fde725"  # bright runs last
    assert "fillcolor" not in to_dot(graph)  # no color unless asked


def test_ramp_runs_dark_to_bright():
    def brightness(color):
        r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
        return 0.299 * r + 0.587 * g + 0.114 * b

    values = [brightness(_ramp_color(i / 20)) for i in range(21)]
    assert values == sorted(values) and values[0] < 60 < 200 < values[-1]
    assert _ramp_color(-1) == _ramp_color(0) and _ramp_color(2) == _ramp_color(1)


def test_visualize_colors_a_collection_by_order():
    total = a_diamond()
    source = shoal.visualize(total, filename=None, color="order")
    fills = {attribute(a, "label"): attribute(a, "fillcolor") for a in nodes_of(source).values()}
    assert fills["one"] == "#440154" and fills["add"] == "#fde725"


# ---------------------------------------------------- files and errors


def test_dot_files_need_nothing(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "graphviz", None)  # as if not installed
    total = a_diamond()
    source = total.visualize(filename=str(tmp_path / "g.dot"), color="order")
    assert (tmp_path / "g.dot").read_text() == source
    again = shoal.visualize(total, filename=str(tmp_path / "h"), format="dot", color="order")
    assert again == source
    assert (tmp_path / "h.dot").read_text() == source


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"color": "rainbow"}, ValueError, "color='rainbow' is not a known coloring"),
        ({"rankdir": "up"}, ValueError, "rankdir must be one of"),
        ({"colour": "order"}, TypeError, r"unexpected keyword arguments \['colour'\]"),
    ],
)
def test_bad_visualize_arguments_fail_before_writing(tmp_path, kwargs, error, match):
    target = tmp_path / "g.dot"
    with pytest.raises(error, match=match):
        shoal.visualize(a_diamond(), filename=str(target), **kwargs)
    assert not target.exists()


def test_visualize_needs_a_collection():
    with pytest.raises(TypeError, match="at least one shoal collection"):
        shoal.visualize([1, 2], filename=None)


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' not installed")


@needs_dot
def test_rendered_svg_shows_the_labels(tmp_path):
    pytest.importorskip("graphviz")
    import shoal.array as sa

    total = sa.ones((4, 4), chunks=2).sum()
    shoal.visualize(total, filename=str(tmp_path / "g.svg"), color="order")
    svg = (tmp_path / "g.svg").read_text()
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    assert "sum-partial (0, 1)" in texts and "sum" in texts
    assert not any(HASH.search(t) for t in texts)
    assert "#440154" in svg and "#fde725" in svg


@needs_dot
def test_rendered_png_and_format_checks(tmp_path):
    pytest.importorskip("graphviz")
    d = a_diamond()
    d.visualize(filename=str(tmp_path / "g"), format="png")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="cannot write format 'banana'"):
        d.visualize(filename=str(tmp_path / "g.banana"))
