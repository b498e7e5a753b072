"""Dask versions of the queries whose pandas form Dask cannot run:
``Series.isin`` of a lazy Series (Q4, Q16, Q20, Q22) and ``nunique`` in a
named aggregation (Q21). Each swaps only that step for what a Dask user
writes instead (a merge with the distinct keys, ``drop_duplicates`` then
``count``); the rest is the code of ``queries.py``.
"""

from __future__ import annotations

from shoal.benchmarks.tpch.queries import QUERIES, Read, _day


def _semi(frame, keys, left_on: str, right_on: str):
    """``frame`` rows whose ``left_on`` is among ``keys[right_on]``."""
    distinct = keys[[right_on]].drop_duplicates()
    out = frame.merge(distinct, left_on=left_on, right_on=right_on)
    return out if left_on == right_on else out.drop(columns=[right_on])


def _anti(frame, keys, left_on: str, right_on: str):
    """``frame`` rows whose ``left_on`` is not among ``keys[right_on]``."""
    distinct = keys[[right_on]].drop_duplicates().assign(_found=1)
    out = frame.merge(distinct, left_on=left_on, right_on=right_on, how="left")
    out = out[out._found.isna()]
    return out.drop(columns=["_found"] + ([] if left_on == right_on else [right_on]))


def q4(read: Read):
    orders, lineitem = read("orders"), read("lineitem")
    quarter = orders[
        (orders.o_orderdate >= _day("1993-07-01")) & (orders.o_orderdate < _day("1993-10-01"))
    ]
    late = lineitem[lineitem.l_commitdate < lineitem.l_receiptdate]
    quarter = _semi(quarter, late, "o_orderkey", "l_orderkey")
    out = quarter.groupby("o_orderpriority").agg(order_count=("o_orderkey", "count"))
    return out.reset_index().sort_values("o_orderpriority")


def q16(read: Read):
    partsupp, part, supplier = read("partsupp"), read("part"), read("supplier")
    complaints = supplier[supplier.s_comment.str.contains("Customer.*Complaints")]
    wanted = part[
        (part.p_brand != "Brand#45")
        & ~part.p_type.str.startswith("MEDIUM POLISHED")
        & part.p_size.isin([49, 14, 23, 45, 19, 3, 36, 9])
    ]
    offers = _anti(partsupp, complaints, "ps_suppkey", "s_suppkey")
    j = wanted.merge(offers, left_on="p_partkey", right_on="ps_partkey")
    j = j[["p_brand", "p_type", "p_size", "ps_suppkey"]].drop_duplicates()
    out = j.groupby(["p_brand", "p_type", "p_size"]).agg(supplier_cnt=("ps_suppkey", "count"))
    out = out.reset_index()
    return out.sort_values(
        ["supplier_cnt", "p_brand", "p_type", "p_size"], ascending=[False, True, True, True]
    )


def q20(read: Read):
    supplier, nation, partsupp = read("supplier"), read("nation"), read("partsupp")
    part, lineitem = read("part"), read("lineitem")
    forest = part[part.p_name.str.startswith("forest")]
    year = lineitem[
        (lineitem.l_shipdate >= _day("1994-01-01")) & (lineitem.l_shipdate < _day("1995-01-01"))
    ]
    shipped = year.groupby(["l_partkey", "l_suppkey"]).l_quantity.sum().reset_index()
    offers = _semi(partsupp, forest, "ps_partkey", "p_partkey")
    j = offers.merge(
        shipped, left_on=["ps_partkey", "ps_suppkey"], right_on=["l_partkey", "l_suppkey"]
    )
    j = j[j.ps_availqty > 0.5 * j.l_quantity]
    canada = nation[nation.n_name == "CANADA"]
    sellers = supplier.merge(canada, left_on="s_nationkey", right_on="n_nationkey")
    sellers = _semi(sellers, j, "s_suppkey", "ps_suppkey")
    return sellers[["s_name", "s_address"]].sort_values("s_name")


def _distinct_suppliers(lines, name: str):
    pairs = lines[["l_orderkey", "l_suppkey"]].drop_duplicates()
    return pairs.groupby("l_orderkey").agg(**{name: ("l_suppkey", "count")}).reset_index()


def q21(read: Read):
    supplier, lineitem = read("supplier"), read("lineitem")
    orders, nation = read("orders"), read("nation")
    late = lineitem[lineitem.l_receiptdate > lineitem.l_commitdate]
    sellers = _distinct_suppliers(lineitem, "n_supp")
    late_sellers = _distinct_suppliers(late, "n_late")
    saudi = nation[nation.n_name == "SAUDI ARABIA"]
    saudi_sellers = supplier.merge(saudi, left_on="s_nationkey", right_on="n_nationkey")
    finished = orders[orders.o_orderstatus == "F"]
    j = late.merge(saudi_sellers, left_on="l_suppkey", right_on="s_suppkey")
    j = j.merge(finished, left_on="l_orderkey", right_on="o_orderkey")
    j = j.merge(sellers[sellers.n_supp > 1], on="l_orderkey")
    j = j.merge(late_sellers[late_sellers.n_late == 1], on="l_orderkey")
    out = j.groupby("s_name").agg(numwait=("l_orderkey", "count")).reset_index()
    out = out.sort_values(["numwait", "s_name"], ascending=[False, True])
    return out.head(100)


def q22(read: Read):
    customer, orders = read("customer"), read("orders")
    codes = ["13", "31", "23", "29", "30", "18", "17"]
    customer = customer.assign(cntrycode=customer.c_phone.str.slice(0, 2))
    customer = customer[customer.cntrycode.isin(codes)]
    average = customer[customer.c_acctbal > 0.0].c_acctbal.mean()
    rich = customer[customer.c_acctbal > average]
    idle = _anti(rich, orders, "c_custkey", "o_custkey")
    out = idle.groupby("cntrycode").agg(
        numcust=("c_custkey", "count"), totacctbal=("c_acctbal", "sum")
    )
    return out.reset_index().sort_values("cntrycode")


DASK_QUERIES = {**QUERIES, 4: q4, 16: q16, 20: q20, 21: q21, 22: q22}
