"""Static ordering: live intermediate results stay few; chains finish one by one.

Memory is measured by counting ``Block`` objects alive at once: every task
result is a ``Block`` whose creation and destruction update a counter.
"""

import math
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.core.graph import get_dependencies
from shoal.core.local import get_sync, get_threads
from shoal.core.order import order, order_keys
from shoal.core.task import Ref, Task


class Block:
    """A result whose live count is tracked (creation and destruction)."""

    lock = threading.Lock()
    live = 0
    peak = 0

    def __init__(self, value):
        self.value = value
        with Block.lock:
            Block.live += 1
            Block.peak = max(Block.peak, Block.live)

    def __del__(self):
        with Block.lock:
            Block.live -= 1

    @classmethod
    def reset(cls):
        cls.live = 0
        cls.peak = 0


def wait_until_released(timeout=2.0):
    """Pool threads drop their last references a moment after get returns."""
    deadline = time.monotonic() + timeout
    while Block.live and time.monotonic() < deadline:
        time.sleep(0.01)
    assert Block.live == 0, f"{Block.live} results still alive after the computation"


def make_block(i):
    return Block(i)


def combine(*blocks):
    return Block(sum(b.value for b in blocks))


def tree_reduction(n, fan_in):
    """
    level 2:            r
                   /    |    \\
    level 1:     c0    c1 ... c(n/8)
                / | \\
    level 0:  b0 b1 .. b7    (n leaf blocks)
    """
    graph = {}
    level = [("leaf", i) for i in range(n)]
    for i in range(n):
        graph[("leaf", i)] = Task(make_block, i)
    depth = 0
    while len(level) > 1:
        depth += 1
        nxt = []
        for j in range(0, len(level), fan_in):
            key = ("combine", depth, j // fan_in)
            graph[key] = Task(combine, *[Ref(k) for k in level[j : j + fan_in]])
            nxt.append(key)
        level = nxt
    return graph, level[0], depth


@pytest.mark.parametrize("reverse_insertion", [False, True])
def test_tree_reduction_holds_a_few_dozen_results(reverse_insertion):
    n, fan_in = 10_000, 8
    graph, root, depth = tree_reduction(n, fan_in)
    if reverse_insertion:
        graph = dict(reversed(list(graph.items())))
    Block.reset()
    result = get_sync(graph, root)
    assert result.value == sum(range(n))
    del result
    assert Block.live == 0, "intermediate results were not released"
    # one partial group per level, plus the group being combined
    bound = (fan_in - 1) * depth + fan_in + 2
    assert depth == math.ceil(math.log(n, fan_in))
    assert Block.peak <= bound, (Block.peak, bound)
    assert Block.peak <= 48


def test_tree_reduction_under_threads_stays_bounded():
    graph, root, depth = tree_reduction(4_096, 8)
    Block.reset()
    result = get_threads(graph, root, num_workers=2)
    assert result.value == sum(range(4_096))
    del result
    wait_until_released()
    assert Block.peak <= 2 * ((8 - 1) * depth + 8 + 2)


LOG: list = []


def record_step(chain, step, prev):
    LOG.append(chain)
    return step


def chains(n_chains, length):
    """
    c0-0 -> c0-1 -> ... -> c0-(L-1)
    c1-0 -> c1-1 -> ... -> c1-(L-1)      (independent)
    ...
    """
    graph = {}
    for c in range(n_chains):
        for s in range(length):
            prev = Ref(f"c{c}-{s - 1}") if s else None
            graph[f"c{c}-{s}"] = Task(record_step, c, s, prev)
    return graph, [f"c{c}-{length - 1}" for c in range(n_chains)]


def test_independent_chains_finish_one_at_a_time(spelling):
    log = LOG
    log.clear()
    graph, outputs = chains(6, 15)
    graph, rename, back = spelling.respell(graph)
    outs = [rename[k] for k in outputs]
    assert get_sync(graph, outs) == [14] * 6
    # the log is a run of 15 equal chain ids, then the next chain, ...
    runs = [log[i : i + 15] for i in range(0, len(log), 15)]
    assert len(runs) == 6
    assert all(len(set(r)) == 1 for r in runs), log
    assert sorted(r[0] for r in runs) == list(range(6))
    # outputs are started in the order they were asked for
    log.clear()
    get_sync(graph, outs[::-1])
    assert [log[i] for i in range(0, len(log), 15)] == list(range(5, -1, -1))


def test_branches_finish_before_the_next_starts(spelling):
    """
              z
            /   \\
          b0     b1
         /  \\   /  \\
        a0  a1 a2  a3
    """
    graph = {
        "a0": 0,
        "a1": 1,
        "a2": 2,
        "a3": 3,
        "b0": Task(max, Ref("a0"), Ref("a1")),
        "b1": Task(max, Ref("a2"), Ref("a3")),
        "z": Task(max, Ref("b0"), Ref("b1")),
    }
    graph, rename, back = spelling.respell(graph)
    keys = [back[k] for k in order_keys(graph, [rename["z"]])]
    assert keys == ["a0", "a1", "b0", "a2", "a3", "b1", "z"]
    prio = order(graph, [rename["z"]])
    assert sorted(prio.values()) == list(range(7))
    assert prio[rename["b0"]] < prio[rename["a2"]]


def test_dependencies_visited_in_argument_order(spelling):
    """Swapping the arguments of z swaps which branch runs first."""
    graph = {"x": 1, "y": 2, "z": Task(max, Ref("y"), Ref("x"))}
    graph, rename, back = spelling.respell(graph)
    assert [back[k] for k in order_keys(graph, [rename["z"]])] == ["y", "x", "z"]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_order_is_topological_and_independent_of_key_names(data, random_dag, spelling):
    graph, _, sinks = random_dag(data)
    keys = order_keys(graph, sinks)
    assert sorted(keys, key=repr) == sorted(graph, key=repr)
    pos = {k: i for i, k in enumerate(keys)}
    for k, deps in get_dependencies(graph).items():
        assert all(pos[d] < pos[k] for d in deps)
    # renaming keys (so that they sort the other way) gives the same order
    new, rename, back = spelling.respell(graph)
    assert [back[k] for k in order_keys(new, [rename[s] for s in sinks])] == keys


def test_order_without_outputs_covers_every_key():
    graph = {"a": 1, "b": Task(abs, Ref("a")), "c": 2}
    assert sorted(order_keys(graph)) == ["a", "b", "c"]
    assert order_keys({}) == []
