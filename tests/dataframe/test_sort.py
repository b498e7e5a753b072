"""set_index, sort_values, reset_index, nlargest/nsmallest against pandas."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal.dataframe as sd
from shoal.dataframe import sort as sort_module
from shoal.testing import assert_eq, compute_checked


@pytest.fixture(params=["whole", "shuffled"])
def sort_route(request, monkeypatch):
    """Small frames come back whole from the sort's sample pass; with no
    room for that, the same sorts go through the range shuffle."""
    if request.param == "shuffled":
        monkeypatch.setattr(sort_module, "_WHOLE_CELLS", 0)
    return request.param


def keyed(n=80, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "k": rng.integers(0, 25, n),
            "f": np.where(rng.random(n) < 0.15, np.nan, rng.normal(size=n).round(1)),
            "s": pd.Series(rng.choice(["pear", "fig", "apple", None], n), dtype="str"),
            "c": pd.Series(rng.choice(["lo", "mid", "hi"], n)).astype(
                pd.CategoricalDtype(["lo", "mid", "hi"], ordered=True)
            ),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 50, n), unit="h"),
            "v": np.arange(n),
        }
    )


def stable_set_index(pdf, col):
    return pdf.set_index(col).sort_index(kind="stable", na_position="last")


@pytest.mark.parametrize("col", ["k", "f", "s", "t"])
@pytest.mark.parametrize("method", ["tasks", "disk"])
def test_set_index_every_partitioning(variants, col, method):
    pdf = keyed()
    for _, df in variants(pdf):
        for k in (None, 1, 4):
            out = df.set_index(col, npartitions=k, shuffle_method=method)
            assert out.known_divisions
            assert_eq(out, stable_set_index(pdf, col))


def test_set_index_explicit_divisions_and_drop():
    pdf = keyed()
    df = sd.from_pandas(pdf, npartitions=3, sort=False)
    out = df.set_index("k", divisions=[0, 5, 10, 24])
    assert out.divisions == (0, 5, 10, 24)
    assert_eq(out, stable_set_index(pdf, "k"))
    kept = df.set_index("k", drop=False)
    assert_eq(kept, pdf.set_index("k", drop=False).sort_index(kind="stable"))
    with pytest.raises(ValueError, match="divisions must be sorted"):
        df.set_index("k", divisions=[5, 1])
    with pytest.raises(KeyError, match="'nope'"):
        df.set_index("nope")


def test_set_index_sorted_from_extremes():
    pdf = keyed().sort_values("k", kind="stable").reset_index(drop=True)
    for parts in (1, 3, 7):
        df = sd.from_pandas(pdf, npartitions=parts, sort=False)
        out = df.set_index("k", sorted=True)
        assert out.known_divisions
        assert "Shuffle" not in out.explain()
        assert_eq(out, pdf.set_index("k"))
    empty_middle = sd.from_map(
        lambda b: pdf.iloc[b[0] : b[1]], [(0, 30), (30, 30), (30, 80), (80, 80)], meta=pdf.iloc[:0]
    )
    assert_eq(empty_middle.set_index("k", sorted=True), pdf.set_index("k"))
    shuffled = sd.from_pandas(pdf.sample(frac=1, random_state=1), npartitions=3, sort=False)
    with pytest.raises(ValueError, match="not sorted across partitions"):
        shuffled.set_index("k", sorted=True)


def test_set_index_hot_key_and_all_missing():
    pdf = pd.DataFrame({"k": [7] * 90 + list(range(10)), "v": range(100)})
    df = sd.from_pandas(pdf, npartitions=5, sort=False)
    out = df.set_index("k", npartitions=5)
    assert_eq(out, stable_set_index(pdf, "k"))
    none = pd.DataFrame({"k": [np.nan] * 4, "v": range(4)})
    assert_eq(sd.from_pandas(none, npartitions=2).set_index("k"), none.set_index("k"))


def test_set_index_categorical_needs_known_categories():
    pdf = keyed()
    df = sd.from_pandas(pdf, npartitions=3).astype({"s": "category"})
    with pytest.raises(NotImplementedError, match="unknown categories"):
        df.set_index("s")
    with pytest.raises(NotImplementedError, match="unknown categories"):
        df.sort_values("s")


@pytest.mark.parametrize(
    "by, ascending",
    [
        ("k", True),
        ("k", False),
        (["s", "k"], [False, True]),
        (["f"], True),
        ("c", False),
        (["t", "s"], [True, False]),
    ],
)
@pytest.mark.parametrize("na_position", ["last", "first"])
def test_sort_values_every_partitioning(variants, by, ascending, na_position, sort_route):
    pdf = keyed()
    want = pdf.sort_values(by, ascending=ascending, na_position=na_position, kind="stable")
    for _, df in variants(pdf):
        for k in (None, 1, 5):
            out = df.sort_values(by, ascending=ascending, na_position=na_position, npartitions=k)
            assert_eq(out, want)


def test_sort_values_spreads_a_hot_key_and_stays_stable(monkeypatch):
    monkeypatch.setattr(sort_module, "_WHOLE_CELLS", 0)
    pdf = pd.DataFrame({"k": [1] * 950 + list(range(50)), "v": range(1000)})
    df = sd.from_pandas(pdf, npartitions=8, sort=False)
    out = df.sort_values("k", max_branch=3, shuffle_method="tasks")
    lengths = [len(out.get_partition(i).compute()) for i in range(out.npartitions)]
    assert max(lengths) < 400, lengths
    assert_eq(out, pdf.sort_values("k", kind="stable"))
    assert_eq(out.v, pdf.sort_values("k", kind="stable").v)


def test_series_sort_values_and_errors(variants, sort_route):
    pdf = keyed()
    for _, df in variants(pdf):
        assert_eq(df.f.sort_values(), pdf.f.sort_values(kind="stable"))
        assert_eq(
            df.s.sort_values(ascending=False, na_position="first"),
            pdf.s.sort_values(ascending=False, na_position="first", kind="stable"),
        )
    df = sd.from_pandas(pdf, npartitions=2)
    with pytest.raises(ValueError, match="ascending must be a bool or 2 bools"):
        df.sort_values(["k", "f"], ascending=[True])
    with pytest.raises(ValueError, match="na_position"):
        df.sort_values("k", na_position="middle")
    with pytest.raises(KeyError, match="'x'"):
        df.sort_values("x")


def test_reset_index(variants, sort_route):
    pdf = keyed(30).set_index("v")
    for _, df in variants(pdf):
        assert_eq(df.reset_index(), pdf.reset_index())
        assert_eq(df.f.reset_index(drop=True), pdf.f.reset_index(drop=True))
        out = df.sort_values("k").reset_index(drop=True)
        assert_eq(out, pdf.sort_values("k", kind="stable").reset_index(drop=True))


def test_frame_nlargest_nsmallest(variants):
    pdf = keyed()
    for _, df in variants(pdf):
        assert_eq(df.nlargest(5, "v"), pdf.nlargest(5, "v"))
        assert_eq(df.nsmallest(7, ["k", "v"]), pdf.nsmallest(7, ["k", "v"]))


@st.composite
def sortable_frames(draw):
    n = draw(st.integers(0, 40))
    a = draw(st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=n, max_size=n))
    b = draw(st.lists(st.sampled_from(["x", "y", "z"]), min_size=n, max_size=n))
    pdf = pd.DataFrame(
        {"a": pd.Series(a, dtype="float64"), "b": pd.Series(b, dtype="str"), "v": range(n)}
    )
    return pdf, sd.from_pandas(pdf, npartitions=draw(st.integers(1, 5)), sort=draw(st.booleans()))


@settings(max_examples=25, deadline=None)
@given(
    sortable_frames(),
    st.lists(st.booleans(), min_size=2, max_size=2),
    st.sampled_from(["first", "last"]),
    st.sampled_from([None, 1, 3]),
    st.booleans(),
)
def test_sort_values_property(data, ascending, na_position, k, whole):
    pdf, df = data
    with pytest.MonkeyPatch.context() as patch:
        if not whole:
            patch.setattr(sort_module, "_WHOLE_CELLS", 0)
        out = df.sort_values(
            ["a", "b"], ascending=ascending, na_position=na_position, npartitions=k
        )
    want = pdf.sort_values(["a", "b"], ascending=ascending, na_position=na_position, kind="stable")
    pd.testing.assert_frame_equal(compute_checked(out), want)


@settings(max_examples=25, deadline=None)
@given(sortable_frames(), st.sampled_from([None, 2, 4]))
def test_set_index_property(data, k):
    pdf, df = data
    out = df.set_index("a", npartitions=k)
    pd.testing.assert_frame_equal(compute_checked(out), stable_set_index(pdf, "a"))


def test_sort_values_of_a_small_frame_computes_it_once(monkeypatch):
    pdf = keyed(200)
    calls = []

    def seen(part):
        calls.append(len(part))
        return part

    df = sd.from_pandas(pdf, npartitions=4).map_partitions(seen, meta=pdf.iloc[:0])
    out = df.sort_values(["s", "k"], npartitions=3)
    assert out.npartitions == 3
    got = compute_checked(out)
    assert sum(calls) == len(pdf)  # the sample pass brought the rows: no second pass
    pd.testing.assert_frame_equal(got, pdf.sort_values(["s", "k"], kind="stable"))
    calls.clear()
    monkeypatch.setattr(sort_module, "_WHOLE_CELLS", 4 * 299)  # 50 rows x 6 columns do not fit
    got = compute_checked(df.sort_values(["s", "k"], npartitions=3))
    assert sum(calls) == 2 * len(pdf)
    pd.testing.assert_frame_equal(got, pdf.sort_values(["s", "k"], kind="stable"))
