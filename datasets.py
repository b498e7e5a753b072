"""Synthetic datasets for examples and tests: ``timeseries`` and ``make_people``.

Both mirror the dask functions of the same names, so tutorials written for
dask open the same way:

    df = shoal.datasets.timeseries()             # a month of one-second rows
    df.groupby("name").x.mean().compute()
    people = shoal.datasets.make_people()        # a bag of dicts

Nothing is generated at call time: each partition is made by its own task,
from a random generator seeded with ``(seed, partition)`` (and the column's
position), so a partition is the same whenever and wherever it is computed,
and two calls with the same seed give the same data. Without ``seed`` one is
drawn at call time and kept in the graph, so recomputing agrees with itself.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Tick

from shoal.bag import Bag
from shoal.bag import from_map as bag_from_map
from shoal.dataframe import DataFrame
from shoal.dataframe import from_map as frame_from_map

__all__ = ["timeseries", "make_people"]

# One name per letter, as in the tutorials written for dask (``df[df.name == "Alice"]``).
NAMES = (
    "Alice", "Bob", "Charlie", "Dan", "Edith", "Frank", "George", "Hannah", "Ingrid",
    "Jerry", "Kevin", "Laura", "Michael", "Norbert", "Oliver", "Patricia", "Quinn",
    "Ray", "Sarah", "Tim", "Ursula", "Victor", "Wendy", "Xavier", "Yvonne", "Zelda",
)  # fmt: skip

# column kind -> {parameter: default}; ``timeseries(..., id_lam=50)`` sets one
_KIND_PARAMETERS: dict[str, dict[str, float]] = {
    "float": {"low": -1.0, "high": 1.0},  # uniform on [low, high)
    "int": {"lam": 1000.0},  # Poisson counts
    "str": {},  # a name from NAMES
    "category": {},  # a name from NAMES, as a categorical with all NAMES known
}


def _kind(column: str, dtype: Any) -> str:
    """The generator kind of a ``dtypes`` entry, or a clear error."""
    if dtype in (float, "float", "float64", np.float64):
        return "float"
    if dtype in (int, "int", "int64", np.int64):
        return "int"
    if dtype in (str, object, "str", "string", "object"):
        return "str"
    if dtype == "category":
        return "category"
    raise ValueError(
        f"timeseries: column {column!r} has dtype {dtype!r}; expected float, int, str "
        "(or object) or 'category'"
    )


def _column(kind: str, n: int, rng: np.random.Generator, params: dict[str, float]) -> Any:
    if kind == "float":
        return rng.uniform(params["low"], params["high"], n)
    if kind == "int":
        return rng.poisson(params["lam"], n).astype("int64")
    codes = rng.integers(0, len(NAMES), n)
    if kind == "category":
        return pd.Categorical.from_codes(codes, categories=list(NAMES))
    return pd.array(np.asarray(NAMES, dtype=object)[codes], dtype="str")


def _grid(origin: pd.Timestamp, low: pd.Timestamp, high: pd.Timestamp, freq: str) -> Any:
    """The times ``origin + k * freq`` in ``[low, high)``: one grid for the
    whole series, whatever the partition bounds."""
    offset = to_offset(freq)
    if isinstance(offset, Tick):  # fixed length: jump straight to the first point
        step = pd.Timedelta(offset)
        first = origin + -((origin - low) // step) * step
        return pd.date_range(first, high, freq=freq, inclusive="left", name="timestamp")
    times = pd.date_range(origin, high, freq=freq, inclusive="left", name="timestamp")
    return times[times >= low]  # calendar steps (months, ...): few points per partition


def _timeseries_partition(
    bounds: tuple[pd.Timestamp, pd.Timestamp, int],
    origin: pd.Timestamp,
    freq: str,
    columns: tuple[tuple[str, str, dict[str, float]], ...],
    seed: int,
) -> pd.DataFrame:
    """The rows of one partition: the series' times from its first bound
    (included) to its second (excluded)."""
    low, high, partition = bounds
    index = _grid(origin, low, high, freq)
    data = {}
    for position, (name, kind, params) in enumerate(columns):
        rng = np.random.default_rng([seed, partition, position])
        data[name] = _column(kind, len(index), rng, params)
    return pd.DataFrame(data, index=index)


def _check_seed(seed: Any, where: str) -> int:
    if seed is None:
        return int(np.random.default_rng().integers(2**63))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{where}: seed must be a non-negative int or None, got {seed!r}")
    return int(seed)


def timeseries(
    start: str | pd.Timestamp = "2000-01-01",
    end: str | pd.Timestamp = "2000-01-31",
    freq: str = "1s",
    partition_freq: str = "1D",
    dtypes: dict[str, Any] | None = None,
    seed: int | None = None,
    **kwargs: float,
) -> DataFrame:
    """A random dataframe indexed by time: one row every ``freq`` from
    ``start`` (included) to ``end`` (excluded), one partition every
    ``partition_freq``, with known divisions.

    ``dtypes`` maps column names to ``float`` (uniform on [-1, 1)), ``int``
    (Poisson counts around 1000), ``str`` (names) or ``"category"``; the
    default is ``{"name": str, "id": int, "x": float, "y": float}``. Keywords
    ``{column}_{parameter}`` set a column's parameters: ``id_lam=`` for ints,
    ``x_low=`` / ``x_high=`` for floats.

    >>> import shoal.datasets
    >>> df = shoal.datasets.timeseries(end="2000-01-03", freq="1h", seed=0)
    >>> df.npartitions, len(df), list(df.columns)
    (2, 48, ['name', 'id', 'x', 'y'])
    >>> df.divisions[0], df.divisions[-1]
    (Timestamp('2000-01-01 00:00:00'), Timestamp('2000-01-03 00:00:00'))
    >>> bool(df.x.between(-1, 1).all().compute())
    True
    """
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    if not start_ts < end_ts:
        raise ValueError(f"timeseries: start {start_ts} must be before end {end_ts}")
    for label, spelled in (("freq", freq), ("partition_freq", partition_freq)):
        try:
            to_offset(spelled)
        except (ValueError, TypeError):
            raise ValueError(
                f"timeseries: {label}={spelled!r} is not a pandas frequency (e.g. '1s', '1h', '1D')"
            ) from None
    if dtypes is None:
        dtypes = {"name": str, "id": int, "x": float, "y": float}
    if not isinstance(dtypes, dict) or not dtypes:
        raise ValueError(f"timeseries: dtypes must be a non-empty dict of columns, got {dtypes!r}")
    kinds = {name: _kind(name, dtype) for name, dtype in dtypes.items()}
    params = {name: dict(_KIND_PARAMETERS[kind]) for name, kind in kinds.items()}
    for key, value in kwargs.items():
        column, _, parameter = key.rpartition("_")
        if column not in params or parameter not in params[column]:
            allowed = [f"{c}_{p}" for c in params for p in params[c]]
            raise TypeError(
                f"timeseries got an unexpected keyword {key!r}; column parameters are {allowed}"
            )
        params[column][parameter] = float(value)
    seed = _check_seed(seed, "timeseries")
    divisions = sorted(
        {start_ts, end_ts}
        | {t for t in pd.date_range(start_ts, end_ts, freq=partition_freq) if start_ts < t < end_ts}
    )
    bounds = [(divisions[i], divisions[i + 1], i) for i in range(len(divisions) - 1)]
    columns = tuple((name, kinds[name], params[name]) for name in dtypes)
    # the empty partition is the meta: types come from the very code that makes the data
    meta = _timeseries_partition((start_ts, start_ts, 0), start_ts, freq, columns, seed)
    frame = frame_from_map(
        _timeseries_partition,
        bounds,
        args=(start_ts, freq, columns, seed),
        meta=meta,
        divisions=divisions,
        label="timeseries",
    )
    return cast(DataFrame, frame)  # from_map makes a DataFrame from a DataFrame meta


FIRST_NAMES = (
    "Ada", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Imani", "Jonas",
    "Keiko", "Luca", "Maya", "Nils", "Olga", "Pablo", "Rosa", "Sven", "Tara", "Umar",
)  # fmt: skip
SURNAMES = (
    "Almeida", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova",
    "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quist",
    "Rossi", "Schmidt", "Tanaka",
)  # fmt: skip
OCCUPATIONS = (
    "Architect", "Baker", "Carpenter", "Chemist", "Dentist", "Editor", "Electrician",
    "Engineer", "Farmer", "Geologist", "Journalist", "Librarian", "Mechanic", "Nurse",
    "Pharmacist", "Pilot", "Plumber", "Surveyor", "Teacher", "Translator",
)  # fmt: skip
STREETS = (
    "Oak", "Maple", "Harbor", "Mill", "Station", "Church", "Lake", "Hill", "Park", "River",
)  # fmt: skip
CITIES = (
    "Aberdeen", "Bergen", "Cork", "Dresden", "Eindhoven", "Florence", "Gdansk", "Hamburg",
    "Innsbruck", "Lyon", "Malmo", "Porto", "Salzburg", "Tampere", "Utrecht", "Zagreb",
)  # fmt: skip


def _person(rng: np.random.Generator) -> dict[str, Any]:
    def pick(options: tuple[str, ...]) -> str:
        return options[int(rng.integers(len(options)))]

    digits = "".join(str(d) for d in rng.integers(0, 10, 16))
    return {
        "age": int(rng.integers(0, 121)),
        "name": (pick(FIRST_NAMES), pick(SURNAMES)),
        "occupation": pick(OCCUPATIONS),
        "telephone": "+1-{:03d}-{:03d}-{:04d}".format(
            *rng.integers((200, 0, 0), (1000, 1000, 10000))
        ),
        "address": {
            "address": f"{int(rng.integers(1, 2000))} {pick(STREETS)} Street",
            "city": pick(CITIES),
        },
        "credit-card": {
            "number": " ".join(digits[i : i + 4] for i in range(0, 16, 4)),
            "expiration-date": f"{int(rng.integers(1, 13)):02d}/{int(rng.integers(25, 35))}",
        },
    }


def _people_partition(partition: int, records: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng([seed, partition])
    return [_person(rng) for _ in range(records)]


def make_people(
    npartitions: int = 10,
    records_per_partition: int = 1000,
    seed: int | None = None,
    locale: str = "en",
) -> Bag:
    """A bag of random person records (dicts): age, name (first, last),
    occupation, telephone, address (street, city) and credit card.

    >>> import shoal.datasets
    >>> people = shoal.datasets.make_people(npartitions=2, records_per_partition=3, seed=1)
    >>> people.npartitions, people.count().compute()
    (2, 6)
    >>> sorted(people.take(1)[0])
    ['address', 'age', 'credit-card', 'name', 'occupation', 'telephone']
    """
    for label, value in (
        ("npartitions", npartitions),
        ("records_per_partition", records_per_partition),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"make_people: {label} must be a positive int, got {value!r}")
    if locale != "en":
        raise ValueError(f"make_people: locale {locale!r} is not available; only 'en' is")
    seed = _check_seed(seed, "make_people")
    return bag_from_map(
        _people_partition, range(int(npartitions)), args=(int(records_per_partition), seed)
    )
