"""The one clock: every module asks here for the current instant, and shows times here.

Instants are stored and compared in UTC. People read Kazakhstan time, with its zone named.
Tests move this clock with `time-machine` (which moves `datetime.now` itself), so nothing
else in the portal may read the time: a test of the source tree checks it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

# Kazakhstan has had one zone, UTC+5, since 1 March 2024; Asia/Almaty says so from tzdata
# 2024a on. The zone is read from the `tzdata` package (pinned with the project), not from
# the system's files, so every machine shows the same hour whatever its own zone data is.
ZONE_NAME = "Asia/Almaty"


def _zone_from_tzdata(name: str) -> ZoneInfo:
    """The IANA zone `name` as the pinned `tzdata` package has it."""
    area, city = name.split("/")
    with resources.files(f"tzdata.zoneinfo.{area}").joinpath(city).open("rb") as data:
        return ZoneInfo.from_file(data, key=name)


KAZAKHSTAN = _zone_from_tzdata(ZONE_NAME)


def now() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


def in_kazakhstan(instant: datetime) -> datetime:
    """The instant as a clock in Kazakhstan shows it."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime given; instants are timezone-aware")
    return instant.astimezone(KAZAKHSTAN)


def kazakhstan_today(instant: datetime | None = None) -> date:
    """The calendar day in Kazakhstan at the instant (now by default)."""
    return in_kazakhstan(instant or now()).date()


def kazakhstan_minute(instant: datetime) -> str:
    """The instant as a clock in Kazakhstan shows it, to the minute: "05.12.2026 11:54"."""
    return in_kazakhstan(instant).strftime("%d.%m.%Y %H:%M")


def to_the_minute(instant: datetime) -> datetime:
    """The instant without its seconds (Kazakhstan's offset is whole hours: the same minute)."""
    return instant.replace(second=0, microsecond=0)


def start_of_month(instant: datetime) -> datetime:
    """The first instant of the instant's calendar month in Kazakhstan, in UTC."""
    local = in_kazakhstan(instant)
    return datetime(local.year, local.month, 1, tzinfo=KAZAKHSTAN).astimezone(UTC)


def utc_offset_label(instant: datetime) -> str:
    """Kazakhstan's offset from UTC at the instant, as people write it: "UTC+5"."""
    offset = in_kazakhstan(instant).utcoffset() or timedelta(0)
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    sign = "+" if hours >= 0 else "-"
    minutes = f":{rest // 60:02d}" if rest else ""
    return f"UTC{sign}{abs(hours)}{minutes}"


def machine_time(instant: datetime) -> str:
    """The instant for a `<time datetime>` attribute: Kazakhstan time to the minute, offset
    included (no seconds: a page needs no more, and says no more than it needs)."""
    return in_kazakhstan(instant).isoformat(timespec="minutes")
