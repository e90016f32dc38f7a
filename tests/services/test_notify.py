"""Notifications (issue 18) against real servers on loopback: an aiosmtpd server and an HTTP
receiver. Content-free messages, the outbox, escalation with the clock moved, the digest, the
mail server down and back, giving up loudly, and the audit record of every message sent."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from portal import clock
from portal.config import Config, Notifications, SmtpServer
from portal.enums import AuditAction, Category, DeliveryStatus, NotificationKind, Priority, Role
from portal.models import AuditEvent, NotificationDelivery, NotificationEvent, Report
from portal.services import intake, labels, notify, triage
from tests.mail import MailCatcher, Received, WebhookReceiver, self_signed_tls, signature_ok
from tests.worlds import World, add_member

CANARY = "CANARY-7f3a Мені өгей әкем ұрады, өлгім келеді"
WEBHOOK_SECRET = "webhook-secret-" + "s" * 32
T0 = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 09:00 in Kazakhstan, a Monday
QUICK = notify.RetryPolicy(first_delay=timedelta(seconds=30), attempts=3)


@pytest.fixture
def catcher() -> Iterator[MailCatcher]:
    """An SMTP server on loopback, started by the test."""
    server = MailCatcher()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """The centre's webhook endpoint, on loopback."""
    server = WebhookReceiver()
    yield server
    server.close()


def notifying(world: World, catcher: MailCatcher, receiver: WebhookReceiver | None) -> Config:
    """The world's configuration with mail (and the webhook) pointed at the test's servers."""
    return dataclasses.replace(
        world.config,
        notifications=Notifications(
            smtp=SmtpServer("127.0.0.1", catcher.port, "none"),
            mail_from="QR 111 <qr111@qr111.example.kz>",
            webhook_url=receiver.url if receiver else None,
            webhook_secret=WEBHOOK_SECRET if receiver else None,
            digest_hour=8,
        ),
    )


def tick(world: World, config: Config, policy: notify.RetryPolicy = QUICK) -> notify.Tick:
    """One round of a worker, in process."""
    with notify.senders_for(config) as senders:
        return notify.run_once(world.session, config, "test-worker", senders, policy)


def child_writes(world: World, config: Config, *, p1: bool = True) -> Report:
    """A child's report through the intake, as the child's form sends it: a P1 (in danger,
    self-harm, the canary text), or a P3 question."""
    new = (
        intake.NewReport(category=Category.SELF_HARM, in_danger=True, text=CANARY)
        if p1
        else intake.NewReport(category=Category.OTHER, in_danger=False, text="Хочу спросить")
    )
    intake.send_report(world.session, config, world.national_school, new)
    return world.session.scalars(select(Report).order_by(Report.id.desc())).first()  # type: ignore[return-value]


def test_a_p1_is_stored_with_its_event_and_nothing_is_sent_by_the_childs_request(
    world: World, catcher: MailCatcher
) -> None:
    """The outbox: the P1's event is in the database with the report; no mail yet."""
    config = notifying(world, catcher, None)
    report = child_writes(world, config)
    assert report.priority is Priority.P1
    events = world.session.scalars(select(NotificationEvent)).all()
    assert [(event.kind, event.report_id) for event in events] == [(NotificationKind.P1, report.id)]
    assert catcher.received == []


def test_a_report_that_is_not_p1_waits_for_the_digest(world: World, catcher: MailCatcher) -> None:
    """No event at once for P2/P3."""
    config = notifying(world, catcher, None)
    assert child_writes(world, config, p1=False).priority is Priority.P3
    assert world.session.scalars(select(NotificationEvent)).all() == []


def forbidden_words(world: World, report: Report) -> list[str]:
    """What no message may carry: the text, the school, its region, the category, the id."""
    school = world.national_school
    category = [
        notify.in_language(labels.CATEGORY[report.category], language)
        for language in notify.LANGUAGES
    ]
    return [
        "CANARY-7f3a",
        "өгей",
        school.name_kk,
        school.name_ru,
        school.school_id,
        school.code,
        school.region,
        report.category.value,
        report.public_id,
        *category,
    ]


def test_no_message_says_anything_of_the_report(
    world: World, catcher: MailCatcher, receiver: WebhookReceiver
) -> None:
    """Every mail (raw, headers too) and every webhook POST: none of the report's words."""
    config = notifying(world, catcher, receiver)
    with time_machine.travel(T0, tick=False):
        report = child_writes(world, config)
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        assert tick(world, config).sent == 2
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        admin = add_member(world.session, config, "duty@111.kz", "duty-pass-1234-xyz", Role.ADMIN)
        notify.set_escalation_list(
            world.session, config, admin.staff, world.national, [admin.staff.id]
        )
        tick(world, config)
    mails = catcher.wait_for(2)
    assert len(mails) == 2 and len(receiver.posts) == 2
    sent = [mail.raw for mail in mails] + [
        json.dumps(headers).encode() + body for headers, body in receiver.posts
    ]
    for word in forbidden_words(world, report):
        assert word
        for blob in sent:
            assert word.encode() not in blob, word
            assert word not in blob.decode("utf-8", "replace"), word
    for mail in mails:  # headers and body decoded (RFC 2047 words, base64 bodies)
        text = _subject(mail) + _body(mail)
        for word in forbidden_words(world, report):
            assert word not in text
    assert mails[0].message["To"] == "daniyar@111.kz"
    # The staff side's default language is Russian (web/i18n.STAFF_DEFAULT_LANGUAGE).
    assert _subject(mails[0]) == "QR 111: 1 новое обращение P1 в очереди 'national', ждёт 2 мин"
    assert "https://qr111.example.kz/staff/inbox" in _body(mails[0])


def _subject(mail: Received) -> str:
    return str(make_header(decode_header(mail.message["Subject"])))


def _body(mail: Received) -> str:
    payload = mail.message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def test_members_choose_address_language_and_what(world: World, catcher: MailCatcher) -> None:
    """Defaults: P1 at once for triage members, to the login; a member's own choices hold."""
    config = notifying(world, catcher, None)
    member = world.national_member.staff
    assert notify.choices_of(world.session, member) == notify.Choices(
        "daniyar@111.kz", False, True, False, "ru"
    )
    notify.set_choices(
        world.session,
        config,
        member,
        address="Duty.Phone@111.kz",
        p1_at_once=True,
        digest=False,
        language="kk",
    )
    with time_machine.travel(T0, tick=False):
        child_writes(world, config)
        tick(world, config)
    (mail,) = catcher.wait_for(1)
    assert mail.message["To"] == "duty.phone@111.kz"
    assert _subject(mail) == "QR 111: 'national' кезегінде 1 жаңа P1 өтініші, 0 мин күтуде"
    notify.set_choices(
        world.session, config, member, address="", p1_at_once=False, digest=False, language="en"
    )
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        child_writes(world, config)
        assert tick(world, config).deliveries == 0
    with pytest.raises(notify.NotifyError):
        notify.set_choices(
            world.session,
            config,
            member,
            address="not mail",
            p1_at_once=True,
            digest=False,
            language="en",
        )


def test_every_message_sent_is_on_the_audit_log(
    world: World, catcher: MailCatcher, receiver: WebhookReceiver
) -> None:
    """Recipient, kind and report id; never the text."""
    config = notifying(world, catcher, receiver)
    report = child_writes(world, config)
    tick(world, config)
    records = world.session.scalars(
        select(AuditEvent).where(AuditEvent.action == AuditAction.NOTIFY).order_by(AuditEvent.seq)
    ).all()
    details = [json.loads(record.detail) for record in records]
    assert {(d["recipient"], d["kind"], d["channel"]) for d in details} == {
        ("daniyar@111.kz", "p1", "email"),
        ("webhook", "p1", "webhook"),
    }
    assert {record.report_public_id for record in records} == {report.public_id}
    assert all("CANARY" not in record.detail for record in records)


def test_the_webhook_is_signed_and_says_the_same_facts(
    world: World, catcher: MailCatcher, receiver: WebhookReceiver
) -> None:
    """HMAC-SHA256 over timestamp and body; an idempotency key; the content-free fields."""
    config = notifying(world, catcher, receiver)
    child_writes(world, config)
    tick(world, config)
    ((headers, body),) = receiver.posts
    assert signature_ok(WEBHOOK_SECRET, headers, body)
    assert not signature_ok("another-secret-" + "x" * 32, headers, body)
    fields = json.loads(body)
    assert set(fields) == {"id", "kind", "inbox", "count", "waiting_minutes", "desk_url", "text"}
    assert fields["kind"] == "p1" and fields["inbox"] == "national" and fields["count"] == 1
    assert headers["idempotency-key"] == fields["id"]


def test_an_unopened_p1_escalates_every_target_period_until_opened(
    world: World, catcher: MailCatcher
) -> None:
    """The clock moves: 15 min unopened -> the escalation list; 30 -> again; opened -> no more."""
    config = notifying(world, catcher, None)
    target = timedelta(minutes=config.triage.p1_target_minutes)
    head = add_member(world.session, config, "head@111.kz", "head-pass-1234-xyz", Role.ADMIN)
    notify.set_escalation_list(world.session, config, head.staff, world.national, [head.staff.id])
    with time_machine.travel(T0, tick=False):
        report = child_writes(world, config)
        tick(world, config)
    assert [m.message["To"] for m in catcher.wait_for(1)] == ["daniyar@111.kz"]
    with time_machine.travel(T0 + target - timedelta(seconds=1), tick=False):
        assert tick(world, config).events == 0
    with time_machine.travel(T0 + target, tick=False):
        assert tick(world, config).sent == 1
        assert tick(world, config).events == 0  # once per period, however often workers look
    with time_machine.travel(T0 + 2 * target + timedelta(minutes=1), tick=False):
        assert tick(world, config).sent == 1
    mails = catcher.wait_for(3)
    assert [m.message["To"] for m in mails] == ["daniyar@111.kz", "head@111.kz", "head@111.kz"]
    assert "ещё не открыто, ждёт 31 мин" in _subject(mails[2])
    with time_machine.travel(T0 + 2 * target + timedelta(minutes=2), tick=False):
        member = world.national_member
        triage.open_report(
            world.session, config, member.staff, world.staff_key(member), report.public_id
        )
    with time_machine.travel(T0 + 5 * target, tick=False):
        assert tick(world, config).events == 0
    assert len(catcher.received) == 3


def test_an_empty_escalation_list_is_said_aloud(
    world: World, catcher: MailCatcher, caplog: pytest.LogCaptureFixture
) -> None:
    """No list named: the step reaches no one by e-mail, and the worker's log says so."""
    config = notifying(world, catcher, None)
    with time_machine.travel(T0, tick=False):
        child_writes(world, config)
        tick(world, config)
    target = timedelta(minutes=config.triage.p1_target_minutes)
    with (
        time_machine.travel(T0 + target, tick=False),
        caplog.at_level(logging.WARNING, logger="portal.services.notify"),
    ):
        done = tick(world, config)
    assert (done.events, done.deliveries) == (1, 0)
    assert any(
        "'national' is escalated to no one by e-mail (nobody at all)" in record.message
        for record in caplog.records
    )
    assert len(catcher.wait_for(1)) == 1  # the P1 itself, to the member, and no more


def test_an_escalation_queued_before_the_report_was_opened_is_dropped(
    world: World, catcher: MailCatcher
) -> None:
    """The step is due and fanned out; a member opens the report seconds before the worker
    sends it: asked again at send time, not sent, DROPPED on the audit log (no content)."""
    config = notifying(world, catcher, None)
    head = add_member(world.session, config, "head@111.kz", "head-pass-1234-xyz", Role.ADMIN)
    notify.set_escalation_list(world.session, config, head.staff, world.national, [head.staff.id])
    with time_machine.travel(T0, tick=False):
        report = child_writes(world, config)
        assert tick(world, config).sent == 1
    target = timedelta(minutes=config.triage.p1_target_minutes)
    with time_machine.travel(T0 + target, tick=False):
        assert notify.schedule(world.session, config) == 1
        assert notify.fan_out(world.session, config) == 1  # queued for head@111.kz
        member = world.national_member
        triage.open_report(
            world.session, config, member.staff, world.staff_key(member), report.public_id
        )
        done = tick(world, config)
    assert (done.sent, done.dropped) == (0, 1)
    assert [m.message["To"] for m in catcher.wait_for(1)] == ["daniyar@111.kz"]
    escalation = world.session.scalars(
        select(NotificationDelivery).where(NotificationDelivery.recipient == "head@111.kz")
    ).one()
    assert escalation.status is DeliveryStatus.DROPPED and escalation.sent_at is None
    (record,) = world.session.scalars(
        select(AuditEvent).where(AuditEvent.action == AuditAction.NOTIFY_DROPPED)
    ).all()
    assert record.report_public_id == report.public_id
    assert json.loads(record.detail) == {
        "recipient": "head@111.kz",
        "kind": "escalation",
        "channel": "email",
        "inbox": "national",
        "reason": "no longer needed",
    }


def test_a_retry_after_the_report_was_opened_is_dropped(
    world: World, catcher: MailCatcher, receiver: WebhookReceiver
) -> None:
    """The mail server was down when the P1 came; by its retry someone has opened the report:
    neither the mail nor the webhook goes, and nothing is left failing on the admins' page."""
    config = notifying(world, catcher, receiver)
    catcher.stop()
    receiver.close()
    with time_machine.travel(T0, tick=False):
        report = child_writes(world, config)
        assert tick(world, config).failed == 2
        member = world.national_member
        triage.open_report(
            world.session, config, member.staff, world.staff_key(member), report.public_id
        )
    catcher.start()
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        assert tick(world, config).dropped == 2
    assert catcher.received == []
    statuses = world.session.scalars(select(NotificationDelivery.status)).all()
    assert statuses == [DeliveryStatus.DROPPED] * 2
    assert notify.troubles(world.session) == []


def test_the_digest_goes_once_a_day_at_the_configured_kazakhstan_hour(
    world: World, catcher: MailCatcher
) -> None:
    """Members who asked get the count of waiting P2/P3 reports at 08:00 Almaty, once."""
    config = notifying(world, catcher, None)
    member = world.national_member.staff
    notify.set_choices(
        world.session, config, member, address="", p1_at_once=True, digest=True, language="en"
    )
    seven_fifty_nine = datetime(2026, 12, 7, 7, 59, tzinfo=clock.KAZAKHSTAN)
    with time_machine.travel(seven_fifty_nine - timedelta(hours=10), tick=False):
        for _ in range(2):
            child_writes(world, config, p1=False)
    assert world.session.scalars(select(Report.priority)).all() == [Priority.P3, Priority.P3]
    with time_machine.travel(seven_fifty_nine, tick=False):
        assert tick(world, config).events == 0
    with time_machine.travel(seven_fifty_nine + timedelta(minutes=1), tick=False):
        assert tick(world, config).sent == 1
    with time_machine.travel(seven_fifty_nine + timedelta(hours=5), tick=False):
        assert tick(world, config).events == 0
    (mail,) = catcher.wait_for(1)
    assert _subject(mail) == "QR 111: P2/P3 reports waiting for a reply in the inbox 'national': 2"
    assert "P2/P3" in _body(mail)
    with time_machine.travel(seven_fifty_nine + timedelta(days=1, minutes=1), tick=False):
        assert tick(world, config).sent == 1


def test_the_mail_server_down_and_back(world: World, catcher: MailCatcher) -> None:
    """Refused: retried with a doubling wait, listed for admins; back up: sent, once."""
    config = notifying(world, catcher, None)
    catcher.stop()
    with time_machine.travel(T0, tick=False):
        child_writes(world, config)
        assert tick(world, config).failed == 1
    (delivery,) = world.session.scalars(select(NotificationDelivery)).all()
    assert delivery.status is DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at == T0 + timedelta(seconds=30)
    assert [trouble.delivery.id for trouble in notify.troubles(world.session)] == [delivery.id]
    with time_machine.travel(T0 + timedelta(seconds=29), tick=False):
        assert tick(world, config).failed == 0  # not due yet
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        assert tick(world, config).failed == 1
    world.session.refresh(delivery)
    assert delivery.next_attempt_at == T0 + timedelta(seconds=90)  # 30 s, then 60 s
    catcher.start()
    with time_machine.travel(T0 + timedelta(seconds=90), tick=False):
        assert tick(world, config).sent == 1
    assert len(catcher.wait_for(1)) == 1
    world.session.refresh(delivery)
    assert world.session.get(NotificationDelivery, delivery.id) is delivery
    assert delivery.status.value == "sent" and notify.troubles(world.session) == []


def test_giving_up_is_loud(
    world: World, catcher: MailCatcher, caplog: pytest.LogCaptureFixture
) -> None:
    """After the last attempt: failed for good, logged at ERROR, on the admins' list."""
    config = notifying(world, catcher, None)
    catcher.stop()
    with time_machine.travel(T0, tick=False) as traveller:
        child_writes(world, config)
        with caplog.at_level(logging.WARNING, logger="portal.services.notify"):
            for _ in range(QUICK.attempts):
                tick(world, config)
                traveller.shift(timedelta(hours=1))
    (delivery,) = world.session.scalars(select(NotificationDelivery)).all()
    assert delivery.status is DeliveryStatus.FAILED and "ConnectionRefused" in delivery.last_error
    assert any(r.levelno == logging.ERROR and "gave up" in r.message for r in caplog.records)
    assert [trouble.delivery.id for trouble in notify.troubles(world.session)] == [delivery.id]
    # /healthz stays about the web: a mail outage is the admins' page's business.
    assert world.app.test_client().get("/healthz").status_code == 200


def test_a_claim_is_one_workers_until_its_lease_lapses(world: World, catcher: MailCatcher) -> None:
    """Two claims at once take nothing twice; a lapsed lease (a killed or stuck worker) is
    taken again, and the first worker then leaves it alone."""
    config = notifying(world, catcher, None)
    with time_machine.travel(T0, tick=False):
        child_writes(world, config)
        notify.schedule(world.session, config)
        notify.fan_out(world.session, config)
        first = notify.claim(world.session, "a")
        assert len(first) == 1 and notify.claim(world.session, "b") == []
    with time_machine.travel(T0 + notify.LEASE + timedelta(seconds=1), tick=False):
        assert notify.claim(world.session, "b") == first
        with notify.senders_for(config) as senders:
            # "a" was slow and comes back to it: not its claim any more, nothing sent.
            lost = notify.deliver(world.session, config, first[0], senders, QUICK, "a")
            assert lost is notify.Outcome.LOST and catcher.received == []
            sent = notify.deliver(world.session, config, first[0], senders, QUICK, "b")
            assert sent is notify.Outcome.SENT
    assert len(catcher.wait_for(1)) == 1


def test_mail_goes_by_starttls_and_login(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PORTAL_SMTP_URL=smtp://user:password@host: a server that requires STARTTLS and a
    login gets the message; a wrong password is a failed attempt, not a message in clear."""
    tls, ca_file = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the client trusts this server only
    # aiosmtpd answers smtplib's last mechanism after a wrong password late: wait less for it.
    monkeypatch.setattr(notify, "SEND_TIMEOUT_SECONDS", 2)
    server = MailCatcher(tls=tls, login=("qr111@mail.kz", "mail-password"))
    server.start()
    try:
        config = notifying(world, server, None)
        smtp = SmtpServer("127.0.0.1", server.port, "starttls", "qr111@mail.kz", "wrong")
        wrong = dataclasses.replace(
            config, notifications=dataclasses.replace(config.notifications, smtp=smtp)
        )
        with time_machine.travel(T0, tick=False):
            child_writes(world, config)
            assert tick(world, wrong).failed == 1
        right = dataclasses.replace(smtp, password="mail-password")
        config = dataclasses.replace(
            config, notifications=dataclasses.replace(config.notifications, smtp=right)
        )
        with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
            assert tick(world, config).sent == 1
        assert len(server.wait_for(1)) == 1 and server.logins == ["qr111@mail.kz"]
    finally:
        server.stop()
