"""shoal.testing: the key-collision check of ``assert_eq``."""

import threading
from operator import mul

import pytest

from shoal import delayed
from shoal.testing import assert_eq, assert_no_key_collisions


def test_a_key_naming_two_different_tasks_fails_even_when_values_agree():
    """
    a:  in=1 -> in*4 = 4        b:  in=2 -> in*2 = 4
    Both results are 4, so only the key check sees that "in" means two things.
    """
    a = delayed(mul)(delayed(1, name="in"), 4)
    b = delayed(mul)(delayed(2, name="in"), 2)
    assert a.compute() == b.compute() == 4
    with pytest.raises(AssertionError, match="key 'in' names different tasks"):
        assert_eq(a, b)


def test_shared_keys_with_equal_tasks_pass():
    base = delayed(3, name="base")
    a = delayed(mul)(base, 2, shoal_key_name="double")
    b = delayed(mul)(delayed(3, name="base"), 2, shoal_key_name="double")  # rebuilt, same keys
    assert a.__shoal_graph__().keys() == b.__shoal_graph__().keys()
    assert_eq(a, b)
    assert_no_key_collisions(a, b, a + 0)


def test_the_collision_is_found_among_several_collections_and_in_any_order():
    good = delayed(1, name="x")
    bad = delayed(mul)(delayed(5, name="x"), 1)
    assert_no_key_collisions(good, good + 1)
    with pytest.raises(AssertionError, match="collections 1 and 2"):
        assert_no_key_collisions(delayed(7, name="y"), good, bad)
    with pytest.raises(AssertionError, match="collections 0 and 1"):
        assert_no_key_collisions(bad, good)


def hold(lock, value):
    return value


def test_tasks_that_cannot_be_told_apart_are_not_reported():
    # a lock has no deterministic token: the check cannot compare the two
    # tasks, and says nothing rather than raise a false alarm
    a = delayed(hold)(threading.Lock(), 1, shoal_key_name="held")
    b = delayed(hold)(threading.Lock(), 1, shoal_key_name="held")
    assert_no_key_collisions(a, b)
