"""shoal.bag: partitioned collections of Python objects (see docs/bag.md).

A ``Bag`` is a lazy sequence of partitions, each an iterable of Python objects
(log lines, JSON records, tuples), processed in parallel on the processes
scheduler by default. Chains of element-wise operations fuse into one task per
partition, and partitions stream, so a pipeline over files larger than memory
runs in bounded memory.

>>> import json
>>> import shoal.bag as sb
>>> records = sb.from_sequence(['{"k": "a"}', '{"k": "b"}', '{"k": "a"}'], npartitions=2)
>>> sorted(records.map(json.loads).pluck("k").frequencies().compute(scheduler="sync"))
[('a', 2), ('b', 1)]
"""

from shoal.bag import random
from shoal.bag.core import Bag, Item
from shoal.bag.core import bag_map as map
from shoal.bag.core import bag_map_partitions as map_partitions
from shoal.bag.core import bag_zip as zip
from shoal.bag.sources import from_delayed, from_map, from_sequence, range
from shoal.bag.text import read_text

__all__ = [
    "Bag",
    "Item",
    "from_sequence",
    "range",
    "from_delayed",
    "from_map",
    "read_text",
    "map",
    "map_partitions",
    "zip",
    "random",
]
