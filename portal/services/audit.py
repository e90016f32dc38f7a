"""The audit log (P5): every staff access and operator action on record, append-only and
tamper-evident.

Each record has a sequence number `seq` (1, 2, 3, ... without gaps) and a `chain`: the hex
HMAC-SHA256, under `crypto.derive_server_key(server secret, "audit-chain")`, of the previous
record's chain (64 zeros before the first record) and of this record's own fields (seq, time,
action, actor, report, detail). Walking the log in seq order (`verify`) therefore shows:

- an **edited** record: its fields no longer give its chain (while the next record, chained to
  the stored chain value, still follows: the edit is pinned to that one record);
- a **removed** record: a gap in seq, and the record after the gap does not follow;
- **reordered** records (seq values swapped or renumbered): the records do not follow from the
  ones now before them; seq is part of what each chain covers.

The chain is keyed, and the key is derived from the server secret, which is configuration and
never in the database. Someone with the database alone (a stolen backup, a database account,
SQL injection) can change rows but cannot compute chains that hide the change. Someone with the
server secret too can rewrite the whole log: an HMAC chain protects against the database, not
against the running server.

**Limit: removing the newest records is not visible in the chain.** Deleting the last k rows
leaves a shorter log that is still perfectly chained: nothing after it refers to what was
removed. The defence is an anchor outside the database: `flask --app portal audit verify`
prints the number of records; kept elsewhere (the monitoring that runs the check, an operator's
note), it is passed back as `--expect-at-least N` (`verify(..., expect_at_least=N)`), and a log
that ends before N is reported. Records written after the last anchor can still go unnoticed.

**No text of a report in the log.** The log is plain in the database, where P1 allows only
triage metadata. `detail` takes small scalars only (strings of at most 200 characters, whole
numbers, booleans, None) under short lower-case keys: a message, a note or a whole object cannot
end up there by mistake, and a refusal never repeats the refused value. What the strings say is
the caller's duty: statuses, counts, names of inboxes; never what anyone wrote.

**Transactions.** `record` adds and flushes the record in the caller's transaction and does not
commit: the caller commits it together with the change it records, so both are stored or
neither. Make the change, then `record`, then commit. `record_and_commit` is for a record that
is the only change (a report was opened; an operator command whose work is committed already).

**Concurrency.** On PostgreSQL a transaction-level advisory lock lets one transaction at a time
append, from `record` to its commit: keep that short (record last, then commit), and take no
row locks after it, which could deadlock with a writer waiting for the log. SQLite has a single
writer anyway. Should two writers still take the same seq (SQLite, when neither had written
before), the unique constraint refuses one, which reads the new end of the log and tries again
inside a SAVEPOINT (`dbutil.add_retrying`), keeping the caller's own work. With SQLite, whose
driver opens a transaction only at the first write, a record that is its transaction's first
write is committed when that SAVEPOINT is released: it stays on record even if the caller rolls
back later (on PostgreSQL it commits or rolls back with the caller).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session

from portal import clock, crypto
from portal.database import add_retrying
from portal.enums import AuditAction
from portal.models import AuditEvent, Staff

CHAIN_PURPOSE = "audit-chain"
GENESIS = "0" * 64  # the chain "before" the first record
_CHAIN_CONTEXT = b"qr111/audit/v1\n"
MAX_DETAIL_TEXT = 200  # characters of one detail string: a status, a name, never a message
MAX_DETAIL_JSON = 2000  # the width of the detail column
MAX_PAGE = 1000  # records per page of `recent`
_DETAIL_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")
_ATTEMPTS = 5  # seq clashes between writers; each lost race means another record got in
_STREAM_BATCH = 1000  # rows fetched at a time by `verify`
# PostgreSQL advisory lock key of appending to the log (any fixed 64-bit number will do).
_APPEND_LOCK = int.from_bytes(
    hashlib.sha256(b"qr111/audit/append").digest()[:8], "big", signed=True
)

DetailValue = str | int | bool | None


class AuditError(ValueError):
    """A record that may not be written (its detail is not small facts)."""


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """Something `verify` found wrong with the record numbered `seq`."""

    seq: int
    message: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.message}"


def record(
    session: Session,
    action: AuditAction,
    *,
    actor: Staff | None = None,
    report_public_id: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
    server_secret: str,
) -> AuditEvent:
    """Append one record to the caller's transaction (flushed, not committed; see above)."""
    encoded = encode_detail(detail or {})
    key = _chain_key(server_secret)

    def make() -> AuditEvent:
        _wait_for_the_end_of_the_log(session)
        last_seq, last_chain = _tail(session)
        event = AuditEvent(
            seq=last_seq + 1,
            # To the minute, like a report's times (issue 20): a record that follows a child's
            # report at once (its P1 notification sent) must not keep the second the report
            # does not; the log's order is its seq.
            at=clock.to_the_minute(clock.now()),
            action=action,
            actor_id=actor.id if actor is not None else None,
            actor_email=actor.email if actor is not None else "",
            report_public_id=report_public_id,
            detail=encoded,
        )
        event.chain = _link(
            key,
            last_chain,
            _fields(
                event.seq,
                event.at,
                action.value,
                event.actor_id,
                event.actor_email,
                report_public_id,
                encoded,
            ),
        )
        return event

    return add_retrying(session, make, attempts=_ATTEMPTS)


def record_and_commit(
    session: Session,
    action: AuditAction,
    *,
    actor: Staff | None = None,
    report_public_id: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
    server_secret: str,
) -> AuditEvent:
    """`record`, then commit (with whatever else the transaction holds)."""
    event = record(
        session,
        action,
        actor=actor,
        report_public_id=report_public_id,
        detail=detail,
        server_secret=server_secret,
    )
    session.commit()
    return event


def encode_detail(detail: Mapping[str, DetailValue]) -> str:
    """The canonical JSON of a detail (sorted keys); AuditError unless it is small scalars."""
    for name, value in detail.items():
        if not isinstance(name, str) or not _DETAIL_KEY.match(name):
            raise AuditError(f"detail key {name!r} is not a short lower-case name")
        if isinstance(value, str):
            if len(value) > MAX_DETAIL_TEXT:
                # The value itself is never repeated: it might be exactly what must not be kept.
                raise AuditError(
                    f"detail {name!r} has {len(value)} characters, at most {MAX_DETAIL_TEXT}: "
                    "the audit log keeps facts, never a report's or a message's text"
                )
        elif value is not None and not isinstance(value, int):  # bool is an int
            raise AuditError(
                f"detail {name!r} is a {type(value).__name__}: only text, numbers, yes/no or none"
            )
    encoded = json.dumps(dict(detail), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if len(encoded) > MAX_DETAIL_JSON:
        raise AuditError(f"detail is {len(encoded)} characters as JSON, at most {MAX_DETAIL_JSON}")
    return encoded


def verify(session: Session, server_secret: str, *, expect_at_least: int = 0) -> list[AuditProblem]:
    """Every problem of the log, in seq order; an empty list when it is intact.

    expect_at_least: the number of records an earlier check saw (kept outside the database);
    a log ending before it lost its newest records, which the chain alone cannot show.
    """
    return list(iter_problems(session, server_secret, expect_at_least=expect_at_least))


def iter_problems(
    session: Session, server_secret: str, *, expect_at_least: int = 0
) -> Iterator[AuditProblem]:
    """`verify`, one problem at a time, streaming the rows (it reads a million without strain)."""
    key = _chain_key(server_secret)
    # Columns, not objects; time and action as stored text, so that a value edited into
    # something unparseable is reported like any other edit instead of stopping the check.
    rows = session.execute(
        select(
            AuditEvent.seq,
            type_coerce(AuditEvent.at, String),
            type_coerce(AuditEvent.action, String),
            AuditEvent.actor_id,
            AuditEvent.actor_email,
            AuditEvent.report_public_id,
            AuditEvent.detail,
            AuditEvent.chain,
        )
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=_STREAM_BATCH)
    )
    previous_seq, previous_chain = 0, GENESIS
    broken: list[int] = []  # consecutive records that do not follow from the one before
    for seq, at, action, actor_id, actor_email, public_id, detail, chain in rows:
        if not isinstance(seq, int):
            yield AuditProblem(previous_seq + 1, f"a record's seq was changed to {seq!r}")
            continue
        fields = _fields(seq, at, action, actor_id, actor_email, public_id, detail)
        follows = hmac.compare_digest(_link(key, previous_chain, fields), str(chain))
        if seq != previous_seq + 1:
            yield from _explain(broken)
            broken = []
            yield AuditProblem(previous_seq + 1, _missing(previous_seq + 1, seq - 1))
            # The record after a gap cannot follow: its predecessor is gone. Nothing more to say.
        elif follows:
            yield from _explain(broken)
            broken = []
        else:
            broken.append(seq)
        previous_seq, previous_chain = seq, str(chain)
    yield from _explain(broken)
    if previous_seq < expect_at_least:
        yield AuditProblem(
            previous_seq + 1,
            f"the log ends at record {previous_seq}, but {expect_at_least} were there before: "
            "the newest records were removed",
        )


def count(session: Session) -> int:
    """The number of records in the log."""
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def recent(
    session: Session,
    *,
    limit: int,
    before_seq: int | None = None,
    action: AuditAction | None = None,
) -> list[AuditEvent]:
    """The newest records first, `limit` at a time; the next page starts before the last seq."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(session.scalars(query))


def _chain_key(server_secret: str) -> bytes:
    return crypto.derive_server_key(server_secret, CHAIN_PURPOSE)


def _wait_for_the_end_of_the_log(session: Session) -> None:
    """PostgreSQL: one transaction at a time appends, from here to its commit or rollback.

    Without it, writers racing for the same seq wait on each other's insert and all but one
    fail, again and again under load. SQLite needs nothing: it has one writer at a time anyway.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_APPEND_LOCK)))


def _tail(session: Session) -> tuple[int, str]:
    """The seq and chain of the newest record, (0, GENESIS) for an empty log."""
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.chain).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS) if last is None else (last[0], last[1])


def _fields(
    seq: int,
    at: object,
    action: object,
    actor_id: object,
    actor_email: object,
    report_public_id: object,
    detail: object,
) -> bytes:
    """The canonical encoding of a record's fields: a compact JSON array, time in UTC."""
    values = [seq, _utc_iso(at), action, actor_id, actor_email, report_public_id, detail]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"), default=repr).encode(
        "utf-8", "surrogatepass"
    )


def _utc_iso(at: object) -> object:
    """A time as ISO 8601 in UTC with microseconds; anything unparseable is left as it is."""
    if isinstance(at, str):  # SQLite hands back the stored text ("2026-01-02 03:04:05.678901")
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            return at
    if not isinstance(at, datetime):
        return at
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.isoformat(timespec="microseconds")


def _link(key: bytes, previous_chain: str, fields: bytes) -> str:
    message = _CHAIN_CONTEXT + previous_chain.encode("utf-8", "surrogatepass") + b"\n" + fields
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _missing(first: int, last: int) -> str:
    if first == last:
        return f"record {first} is missing (removed)"
    return f"records {first} to {last} are missing (removed)"


_EDITED = "edited: the record no longer matches its chain"
_OUT_OF_PLACE = (
    "does not follow from the record before it: records reordered or replaced (or edited), "
    "or the log was written with another server secret"
)


def _explain(broken: list[int]) -> Iterator[AuditProblem]:
    """A record alone in not following, whose chain the next record confirms, was edited; in a
    run, the links themselves are wrong (records moved, renumbered or replaced)."""
    if len(broken) == 1:
        yield AuditProblem(broken[0], _EDITED)
    else:
        for seq in broken:
            yield AuditProblem(seq, _OUT_OF_PLACE)
