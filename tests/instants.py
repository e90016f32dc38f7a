"""The instants where calendars break, for tests of everything that counts time.

The first and last second of every month of a leap year in Kazakhstan time (2028: 29 February
is among them), the turn of a year (31 December 23:59:59 -> 1 January), and 30 November 19:00
UTC, which is already 1 December in Kazakhstan (the instant the figures page first failed).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta

from portal import clock

LEAP_YEAR = 2028
SECOND = timedelta(seconds=1)


def month_edges(year: int) -> list[datetime]:
    """The first and the last second of each month of the year, in Kazakhstan time."""
    edges: list[datetime] = []
    for month in range(1, 13):
        first = datetime(year, month, 1, tzinfo=clock.KAZAKHSTAN)
        edges += [first, first + relativedelta(months=1) - SECOND]
    return edges


def _named(instant: datetime) -> str:
    return clock.in_kazakhstan(instant).strftime("%Y-%m-%dT%H:%M:%S+05")


EDGES = [
    datetime(2026, 11, 30, 19, 0, tzinfo=UTC),  # 00:00 on 1 December in Kazakhstan
    datetime(2027, 12, 31, 23, 59, 59, tzinfo=clock.KAZAKHSTAN),
    datetime(2028, 1, 1, 0, 0, tzinfo=clock.KAZAKHSTAN),
    datetime(2028, 2, 29, 12, 0, tzinfo=clock.KAZAKHSTAN),
    *month_edges(LEAP_YEAR),
]
# For pytest.mark.parametrize: every instant, named by its Kazakhstan wall clock.
EVERY_EDGE = [pytest.param(instant, id=_named(instant)) for instant in dict.fromkeys(EDGES)]
