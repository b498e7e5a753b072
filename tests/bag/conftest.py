"""Bags holding the same elements under many partitionings, for oracle tests."""

import pytest

import shoal.bag as sb
from shoal import delayed


def partitionings(data: list) -> list:
    """The elements of ``data`` as bags: one partition, a few uneven ones, one
    element per partition, and with empty partitions mixed in."""
    out = [sb.from_sequence(data, npartitions=1)]
    if len(data) > 1:
        out.append(sb.from_sequence(data, npartitions=3))
        out.append(sb.from_sequence(data, partition_size=1))
    parts = [[], data[:1], [], data[1:4], data[4:], []]
    out.append(
        sb.from_delayed([delayed(p, name=f"part-{i}-{id(data)}") for i, p in enumerate(parts)])
    )
    out.append(sb.from_map(_slice, [0, 2, 2, 5], [2, 2, 5, len(data)], args=(data,)))
    return out


def _slice(a, b, data):
    return data[a:b]


@pytest.fixture(params=[0, 1, 7, 50])
def size(request):
    return request.param
