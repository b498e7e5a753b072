"""The 22 TPC-H queries, written as a pandas or dask.dataframe user writes
them: read whole tables, filter with boolean masks, ``merge``,
``groupby().agg()``, ``sort_values``, ``head``. No hand planning: the
columns a query needs, where filters go and how joins run are left to the
library.

Each ``qN(read)`` takes ``read(table_name)`` (e.g. ``shoal.dataframe.read_parquet``
of the table's directory) and returns the answer: a frame with the columns
of the TPC-H SQL (``sql.py``), or a scalar for Q6, Q14, Q17 and Q19. The
answer may be lazy (``.compute()`` it) or already computed (``head``).
Parameters are the specification's validation values.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

Read = Callable[[str], object]


def _day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def q1(read: Read):
    """Pricing summary report."""
    li = read("lineitem")
    li = li[li.l_shipdate <= _day("1998-09-02")]
    li = li.assign(disc_price=li.l_extendedprice * (1 - li.l_discount))
    li = li.assign(charge=li.disc_price * (1 + li.l_tax))
    out = li.groupby(["l_returnflag", "l_linestatus"]).agg(
        sum_qty=("l_quantity", "sum"),
        sum_base_price=("l_extendedprice", "sum"),
        sum_disc_price=("disc_price", "sum"),
        sum_charge=("charge", "sum"),
        avg_qty=("l_quantity", "mean"),
        avg_price=("l_extendedprice", "mean"),
        avg_disc=("l_discount", "mean"),
        count_order=("l_quantity", "count"),
    )
    return out.reset_index().sort_values(["l_returnflag", "l_linestatus"])


def q2(read: Read):
    """Minimum cost supplier."""
    region, nation = read("region"), read("nation")
    supplier, part, partsupp = read("supplier"), read("part"), read("partsupp")
    europe = region[region.r_name == "EUROPE"]
    nations = nation.merge(europe, left_on="n_regionkey", right_on="r_regionkey")
    suppliers = supplier.merge(nations, left_on="s_nationkey", right_on="n_nationkey")
    offers = partsupp.merge(suppliers, left_on="ps_suppkey", right_on="s_suppkey")
    brass = part[(part.p_size == 15) & part.p_type.str.endswith("BRASS")]
    candidates = brass.merge(offers, left_on="p_partkey", right_on="ps_partkey")
    cheapest = candidates.groupby("p_partkey").ps_supplycost.min().reset_index()
    best = candidates.merge(cheapest, on=["p_partkey", "ps_supplycost"])
    columns = ["s_acctbal", "s_name", "n_name", "p_partkey", "p_mfgr"]
    columns += ["s_address", "s_phone", "s_comment"]
    best = best[columns].sort_values(
        ["s_acctbal", "n_name", "s_name", "p_partkey"], ascending=[False, True, True, True]
    )
    return best.head(100)


def q3(read: Read):
    """Shipping priority."""
    customer, orders, lineitem = read("customer"), read("orders"), read("lineitem")
    day = _day("1995-03-15")
    buyers = customer[customer.c_mktsegment == "BUILDING"]
    early = orders[orders.o_orderdate < day]
    shipped = lineitem[lineitem.l_shipdate > day]
    j = buyers.merge(early, left_on="c_custkey", right_on="o_custkey")
    j = j.merge(shipped, left_on="o_orderkey", right_on="l_orderkey")
    j = j.assign(revenue=j.l_extendedprice * (1 - j.l_discount))
    out = j.groupby(["l_orderkey", "o_orderdate", "o_shippriority"]).revenue.sum().reset_index()
    out = out.sort_values(["revenue", "o_orderdate"], ascending=[False, True])
    return out[["l_orderkey", "revenue", "o_orderdate", "o_shippriority"]].head(10)


def q4(read: Read):
    """Order priority checking."""
    orders, lineitem = read("orders"), read("lineitem")
    quarter = orders[
        (orders.o_orderdate >= _day("1993-07-01")) & (orders.o_orderdate < _day("1993-10-01"))
    ]
    late = lineitem[lineitem.l_commitdate < lineitem.l_receiptdate]
    quarter = quarter[quarter.o_orderkey.isin(late.l_orderkey)]
    out = quarter.groupby("o_orderpriority").agg(order_count=("o_orderkey", "count"))
    return out.reset_index().sort_values("o_orderpriority")


def q5(read: Read):
    """Local supplier volume."""
    region, nation, customer = read("region"), read("nation"), read("customer")
    orders, lineitem, supplier = read("orders"), read("lineitem"), read("supplier")
    asia = region[region.r_name == "ASIA"]
    year = orders[
        (orders.o_orderdate >= _day("1994-01-01")) & (orders.o_orderdate < _day("1995-01-01"))
    ]
    j = asia.merge(nation, left_on="r_regionkey", right_on="n_regionkey")
    j = j.merge(customer, left_on="n_nationkey", right_on="c_nationkey")
    j = j.merge(year, left_on="c_custkey", right_on="o_custkey")
    j = j.merge(lineitem, left_on="o_orderkey", right_on="l_orderkey")
    j = j.merge(
        supplier, left_on=["l_suppkey", "n_nationkey"], right_on=["s_suppkey", "s_nationkey"]
    )
    j = j.assign(revenue=j.l_extendedprice * (1 - j.l_discount))
    out = j.groupby("n_name").revenue.sum().reset_index()
    return out.sort_values("revenue", ascending=False)


def q6(read: Read):
    """Forecasting revenue change."""
    li = read("lineitem")
    li = li[
        (li.l_shipdate >= _day("1994-01-01"))
        & (li.l_shipdate < _day("1995-01-01"))
        & (li.l_discount >= 0.05)
        & (li.l_discount <= 0.07)
        & (li.l_quantity < 24)
    ]
    return (li.l_extendedprice * li.l_discount).sum()


def q7(read: Read):
    """Volume shipping."""
    nation, supplier, customer = read("nation"), read("supplier"), read("customer")
    orders, lineitem = read("orders"), read("lineitem")
    pair = nation[nation.n_name.isin(["FRANCE", "GERMANY"])]
    sellers = supplier.merge(pair, left_on="s_nationkey", right_on="n_nationkey")
    sellers = sellers[["s_suppkey", "n_name"]].rename(columns={"n_name": "supp_nation"})
    buyers = customer.merge(pair, left_on="c_nationkey", right_on="n_nationkey")
    buyers = buyers[["c_custkey", "n_name"]].rename(columns={"n_name": "cust_nation"})
    li = lineitem[
        (lineitem.l_shipdate >= _day("1995-01-01")) & (lineitem.l_shipdate <= _day("1996-12-31"))
    ]
    j = li.merge(sellers, left_on="l_suppkey", right_on="s_suppkey")
    j = j.merge(orders, left_on="l_orderkey", right_on="o_orderkey")
    j = j.merge(buyers, left_on="o_custkey", right_on="c_custkey")
    j = j[
        ((j.supp_nation == "FRANCE") & (j.cust_nation == "GERMANY"))
        | ((j.supp_nation == "GERMANY") & (j.cust_nation == "FRANCE"))
    ]
    j = j.assign(l_year=j.l_shipdate.dt.year, volume=j.l_extendedprice * (1 - j.l_discount))
    out = j.groupby(["supp_nation", "cust_nation", "l_year"]).agg(revenue=("volume", "sum"))
    return out.reset_index().sort_values(["supp_nation", "cust_nation", "l_year"])


def q8(read: Read):
    """National market share."""
    region, nation, customer = read("region"), read("nation"), read("customer")
    orders, lineitem = read("orders"), read("lineitem")
    supplier, part = read("supplier"), read("part")
    america = region[region.r_name == "AMERICA"]
    buyer_nations = nation.merge(america, left_on="n_regionkey", right_on="r_regionkey")
    buyers = customer.merge(buyer_nations, left_on="c_nationkey", right_on="n_nationkey")
    sellers = supplier.merge(nation, left_on="s_nationkey", right_on="n_nationkey")
    sellers = sellers[["s_suppkey", "n_name"]].rename(columns={"n_name": "nation"})
    steel = part[part.p_type == "ECONOMY ANODIZED STEEL"]
    two_years = orders[
        (orders.o_orderdate >= _day("1995-01-01")) & (orders.o_orderdate <= _day("1996-12-31"))
    ]
    j = steel.merge(lineitem, left_on="p_partkey", right_on="l_partkey")
    j = j.merge(sellers, left_on="l_suppkey", right_on="s_suppkey")
    j = j.merge(two_years, left_on="l_orderkey", right_on="o_orderkey")
    j = j.merge(buyers, left_on="o_custkey", right_on="c_custkey")
    volume = j.l_extendedprice * (1 - j.l_discount)
    j = j.assign(
        o_year=j.o_orderdate.dt.year,
        volume=volume,
        brazil_volume=volume.where(j.nation == "BRAZIL", 0.0),
    )
    out = j.groupby("o_year")[["brazil_volume", "volume"]].sum().reset_index()
    out = out.assign(mkt_share=out.brazil_volume / out.volume)
    return out[["o_year", "mkt_share"]].sort_values("o_year")


def q9(read: Read):
    """Product type profit measure."""
    part, lineitem, partsupp = read("part"), read("lineitem"), read("partsupp")
    supplier, orders, nation = read("supplier"), read("orders"), read("nation")
    green = part[part.p_name.str.contains("green", regex=False)]
    j = green.merge(lineitem, left_on="p_partkey", right_on="l_partkey")
    j = j.merge(partsupp, left_on=["l_suppkey", "l_partkey"], right_on=["ps_suppkey", "ps_partkey"])
    j = j.merge(supplier, left_on="l_suppkey", right_on="s_suppkey")
    j = j.merge(orders, left_on="l_orderkey", right_on="o_orderkey")
    j = j.merge(nation, left_on="s_nationkey", right_on="n_nationkey")
    j = j.assign(
        nation=j.n_name,
        o_year=j.o_orderdate.dt.year,
        amount=j.l_extendedprice * (1 - j.l_discount) - j.ps_supplycost * j.l_quantity,
    )
    out = j.groupby(["nation", "o_year"]).agg(sum_profit=("amount", "sum")).reset_index()
    return out.sort_values(["nation", "o_year"], ascending=[True, False])


def q10(read: Read):
    """Returned item reporting."""
    customer, orders = read("customer"), read("orders")
    lineitem, nation = read("lineitem"), read("nation")
    quarter = orders[
        (orders.o_orderdate >= _day("1993-10-01")) & (orders.o_orderdate < _day("1994-01-01"))
    ]
    returned = lineitem[lineitem.l_returnflag == "R"]
    j = customer.merge(quarter, left_on="c_custkey", right_on="o_custkey")
    j = j.merge(returned, left_on="o_orderkey", right_on="l_orderkey")
    j = j.merge(nation, left_on="c_nationkey", right_on="n_nationkey")
    j = j.assign(revenue=j.l_extendedprice * (1 - j.l_discount))
    keys = ["c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment"]
    out = j.groupby(keys).revenue.sum().reset_index()
    out = out.sort_values("revenue", ascending=False)
    columns = ["c_custkey", "c_name", "revenue", "c_acctbal", "n_name"]
    return out[columns + ["c_address", "c_phone", "c_comment"]].head(20)


def q11(read: Read):
    """Important stock identification."""
    partsupp, supplier, nation = read("partsupp"), read("supplier"), read("nation")
    germany = nation[nation.n_name == "GERMANY"]
    sellers = supplier.merge(germany, left_on="s_nationkey", right_on="n_nationkey")
    stock = partsupp.merge(sellers, left_on="ps_suppkey", right_on="s_suppkey")
    stock = stock.assign(value=stock.ps_supplycost * stock.ps_availqty)
    fraction = 0.0001 / (len(supplier) / 10_000)  # the specification's 0.0001 / SF
    threshold = stock.value.sum() * fraction
    out = stock.groupby("ps_partkey").value.sum().reset_index()
    out = out[out.value > threshold]
    return out.sort_values("value", ascending=False)


def q12(read: Read):
    """Shipping modes and order priority."""
    orders, lineitem = read("orders"), read("lineitem")
    li = lineitem[
        lineitem.l_shipmode.isin(["MAIL", "SHIP"])
        & (lineitem.l_commitdate < lineitem.l_receiptdate)
        & (lineitem.l_shipdate < lineitem.l_commitdate)
        & (lineitem.l_receiptdate >= _day("1994-01-01"))
        & (lineitem.l_receiptdate < _day("1995-01-01"))
    ]
    j = orders.merge(li, left_on="o_orderkey", right_on="l_orderkey")
    urgent = j.o_orderpriority.isin(["1-URGENT", "2-HIGH"])
    j = j.assign(high_line_count=urgent.astype("int64"), low_line_count=(~urgent).astype("int64"))
    out = j.groupby("l_shipmode")[["high_line_count", "low_line_count"]].sum().reset_index()
    return out.sort_values("l_shipmode")


def q13(read: Read):
    """Customer distribution."""
    customer, orders = read("customer"), read("orders")
    plain = orders[~orders.o_comment.str.contains("special.*requests")]
    j = customer.merge(plain, left_on="c_custkey", right_on="o_custkey", how="left")
    per_customer = j.groupby("c_custkey").agg(c_count=("o_orderkey", "count")).reset_index()
    out = per_customer.groupby("c_count").agg(custdist=("c_custkey", "count")).reset_index()
    return out.sort_values(["custdist", "c_count"], ascending=[False, False])


def q14(read: Read):
    """Promotion effect."""
    lineitem, part = read("lineitem"), read("part")
    month = lineitem[
        (lineitem.l_shipdate >= _day("1995-09-01")) & (lineitem.l_shipdate < _day("1995-10-01"))
    ]
    j = month.merge(part, left_on="l_partkey", right_on="p_partkey")
    revenue = j.l_extendedprice * (1 - j.l_discount)
    promo = revenue.where(j.p_type.str.startswith("PROMO"), 0.0)
    return 100.0 * promo.sum() / revenue.sum()


def q15(read: Read):
    """Top supplier."""
    lineitem, supplier = read("lineitem"), read("supplier")
    quarter = lineitem[
        (lineitem.l_shipdate >= _day("1996-01-01")) & (lineitem.l_shipdate < _day("1996-04-01"))
    ]
    quarter = quarter.assign(revenue=quarter.l_extendedprice * (1 - quarter.l_discount))
    revenue = quarter.groupby("l_suppkey").agg(total_revenue=("revenue", "sum")).reset_index()
    top = revenue[revenue.total_revenue == revenue.total_revenue.max()]
    j = supplier.merge(top, left_on="s_suppkey", right_on="l_suppkey")
    j = j[["s_suppkey", "s_name", "s_address", "s_phone", "total_revenue"]]
    return j.sort_values("s_suppkey")


def q16(read: Read):
    """Parts/supplier relationship."""
    partsupp, part, supplier = read("partsupp"), read("part"), read("supplier")
    complaints = supplier[supplier.s_comment.str.contains("Customer.*Complaints")]
    wanted = part[
        (part.p_brand != "Brand#45")
        & ~part.p_type.str.startswith("MEDIUM POLISHED")
        & part.p_size.isin([49, 14, 23, 45, 19, 3, 36, 9])
    ]
    offers = partsupp[~partsupp.ps_suppkey.isin(complaints.s_suppkey)]
    j = wanted.merge(offers, left_on="p_partkey", right_on="ps_partkey")
    out = j.groupby(["p_brand", "p_type", "p_size"]).agg(supplier_cnt=("ps_suppkey", "nunique"))
    out = out.reset_index()
    return out.sort_values(
        ["supplier_cnt", "p_brand", "p_type", "p_size"], ascending=[False, True, True, True]
    )


def q17(read: Read):
    """Small-quantity-order revenue."""
    lineitem, part = read("lineitem"), read("part")
    boxes = part[(part.p_brand == "Brand#23") & (part.p_container == "MED BOX")]
    j = lineitem.merge(boxes, left_on="l_partkey", right_on="p_partkey")
    average = j.groupby("l_partkey").agg(avg_quantity=("l_quantity", "mean")).reset_index()
    j = j.merge(average, on="l_partkey")
    j = j[j.l_quantity < 0.2 * j.avg_quantity]
    return j.l_extendedprice.sum() / 7.0


def q18(read: Read):
    """Large volume customer."""
    customer, orders, lineitem = read("customer"), read("orders"), read("lineitem")
    per_order = lineitem.groupby("l_orderkey").l_quantity.sum().reset_index()
    large = per_order[per_order.l_quantity > 300]
    big_orders = orders[orders.o_orderkey.isin(large.l_orderkey)]
    j = customer.merge(big_orders, left_on="c_custkey", right_on="o_custkey")
    j = j.merge(lineitem, left_on="o_orderkey", right_on="l_orderkey")
    keys = ["c_name", "c_custkey", "o_orderkey", "o_orderdate", "o_totalprice"]
    out = j.groupby(keys).agg(sum_qty=("l_quantity", "sum")).reset_index()
    out = out.sort_values(["o_totalprice", "o_orderdate"], ascending=[False, True])
    return out.head(100)


def q19(read: Read):
    """Discounted revenue."""
    lineitem, part = read("lineitem"), read("part")
    li = lineitem[
        lineitem.l_shipmode.isin(["AIR", "AIR REG"])
        & (lineitem.l_shipinstruct == "DELIVER IN PERSON")
    ]
    j = li.merge(part, left_on="l_partkey", right_on="p_partkey")
    first = (
        (j.p_brand == "Brand#12")
        & j.p_container.isin(["SM CASE", "SM BOX", "SM PACK", "SM PKG"])
        & (j.l_quantity >= 1)
        & (j.l_quantity <= 11)
        & (j.p_size >= 1)
        & (j.p_size <= 5)
    )
    second = (
        (j.p_brand == "Brand#23")
        & j.p_container.isin(["MED BAG", "MED BOX", "MED PKG", "MED PACK"])
        & (j.l_quantity >= 10)
        & (j.l_quantity <= 20)
        & (j.p_size >= 1)
        & (j.p_size <= 10)
    )
    third = (
        (j.p_brand == "Brand#34")
        & j.p_container.isin(["LG CASE", "LG BOX", "LG PACK", "LG PKG"])
        & (j.l_quantity >= 20)
        & (j.l_quantity <= 30)
        & (j.p_size >= 1)
        & (j.p_size <= 15)
    )
    j = j[first | second | third]
    return (j.l_extendedprice * (1 - j.l_discount)).sum()


def q20(read: Read):
    """Potential part promotion."""
    supplier, nation, partsupp = read("supplier"), read("nation"), read("partsupp")
    part, lineitem = read("part"), read("lineitem")
    forest = part[part.p_name.str.startswith("forest")]
    year = lineitem[
        (lineitem.l_shipdate >= _day("1994-01-01")) & (lineitem.l_shipdate < _day("1995-01-01"))
    ]
    shipped = year.groupby(["l_partkey", "l_suppkey"]).l_quantity.sum().reset_index()
    offers = partsupp[partsupp.ps_partkey.isin(forest.p_partkey)]
    j = offers.merge(
        shipped, left_on=["ps_partkey", "ps_suppkey"], right_on=["l_partkey", "l_suppkey"]
    )
    j = j[j.ps_availqty > 0.5 * j.l_quantity]
    canada = nation[nation.n_name == "CANADA"]
    sellers = supplier.merge(canada, left_on="s_nationkey", right_on="n_nationkey")
    sellers = sellers[sellers.s_suppkey.isin(j.ps_suppkey)]
    return sellers[["s_name", "s_address"]].sort_values("s_name")


def q21(read: Read):
    """Suppliers who kept orders waiting."""
    supplier, lineitem = read("supplier"), read("lineitem")
    orders, nation = read("orders"), read("nation")
    late = lineitem[lineitem.l_receiptdate > lineitem.l_commitdate]
    sellers = lineitem.groupby("l_orderkey").agg(n_supp=("l_suppkey", "nunique")).reset_index()
    late_sellers = late.groupby("l_orderkey").agg(n_late=("l_suppkey", "nunique")).reset_index()
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
    """Global sales opportunity."""
    customer, orders = read("customer"), read("orders")
    codes = ["13", "31", "23", "29", "30", "18", "17"]
    customer = customer.assign(cntrycode=customer.c_phone.str.slice(0, 2))
    customer = customer[customer.cntrycode.isin(codes)]
    average = customer[customer.c_acctbal > 0.0].c_acctbal.mean()
    idle = customer[(customer.c_acctbal > average) & ~customer.c_custkey.isin(orders.o_custkey)]
    out = idle.groupby("cntrycode").agg(
        numcust=("c_custkey", "count"), totacctbal=("c_acctbal", "sum")
    )
    return out.reset_index().sort_values("cntrycode")


QUERIES = {i: globals()[f"q{i}"] for i in range(1, 23)}
