"""The words printed on posters and stickers, per language: short, for a reading age of 9."""

from __future__ import annotations

from dataclasses import dataclass

from qr.model import Language


@dataclass(frozen=True)
class PosterTexts:
    """Every fixed string of a poster and a sticker in one language."""

    headline: str
    call_to_action: str
    danger: str
    helpline: str
    check_label: str
    check_note: str
    sticker_call: str
    sticker_danger: str


TEXTS: dict[Language, PosterTexts] = {
    Language.KK: PosterTexts(
        headline="111-ге жаз",
        call_to_action=(
            "Сені біреу ренжітсе немесе қорқып жүрсең — QR-кодты сканерлеп, бізге жаз. "
            "Атыңды жазудың қажеті жоқ."
        ),
        danger="Қауіп төнсе — дереу 112-ге қоңырау шал",
        helpline="Немесе 111-ге қоңырау шал: тегін, тәулік бойы",
        check_label="Тексеру сөзі",
        check_note="Сайтта да осы сөз шығады",
        sticker_call="Сканерлеп, бізге жаз",
        sticker_danger="Қауіп төнсе: 112",
    ),
    Language.RU: PosterTexts(
        headline="Напиши в 111",
        call_to_action=(
            "Если тебя обижают или тебе страшно — отсканируй QR-код и напиши нам. "
            "Имя писать не нужно."
        ),
        danger="Опасность прямо сейчас? Звони 112",
        helpline="Или позвони в 111: бесплатно, днём и ночью",
        check_label="Проверочное слово",
        check_note="На сайте будет это же слово",
        sticker_call="Отсканируй и напиши нам",
        sticker_danger="Опасно? Звони 112",
    ),
    Language.EN: PosterTexts(
        headline="Write to 111",
        call_to_action=(
            "If someone hurts you or you feel scared, scan the QR code and write to us. "
            "You don't have to give your name."
        ),
        danger="In danger right now? Call 112",
        helpline="Or call 111: free, day and night",
        check_label="Check word",
        check_note="The website shows the same word",
        sticker_call="Scan and write to us",
        sticker_danger="In danger? Call 112",
    ),
}
