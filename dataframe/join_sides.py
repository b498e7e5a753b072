"""Which sides of a join keep every row they meet with, by ``how``.

A side is *kept* when the join drops none of its rows for having no match
elsewhere than on that side itself: both for ``inner`` (a row is dropped
only for lack of a match), the left for ``left``/``leftsemi``/``leftanti``,
the right for ``right``, neither for ``outer``. Such a side may drive a
range join (``join_ranges.py``), take a pushed filter (``join_filters.py``)
and have its hot keys split (``join_skew.py``): the other side's rows are
then the ones matched against it.

>>> KEPT_SIDES["left"]
('left',)
"""

from __future__ import annotations

__all__ = ["KEPT_SIDES"]

KEPT_SIDES = {
    "inner": ("left", "right"),
    "left": ("left",),
    "leftsemi": ("left",),
    "leftanti": ("left",),
    "right": ("right",),
    "outer": (),
}
