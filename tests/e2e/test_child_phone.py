"""Every child page on small phones in kk/ru/en (issue 16): the quick exit covers nothing at
any scroll position, axe-core finds no violation, problems open at the top with focus, the way
to the form is on the first screen, Enter on a radio sends nothing, Back finds no answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Route, ViewportSize

from tests.e2e.conftest import SMALL_TARGETS, page_screenshot, screenshot_path

pytestmark = pytest.mark.e2e

SIZES: dict[str, ViewportSize] = {
    "360x740": {"width": 360, "height": 740},
    "320x568": {"width": 320, "height": 568},
}
TEXT = "Меня обижают на переменах. Мені қорқынышты."
NEUTRAL = "Погода в Астане"
SCROLL_STEP = 24  # px: finer than any line of text or control

# Every element's visible box (clipped by the viewport and by each ancestor that clips), at
# each scroll position of each scrolling box; the ones that meet the quick exit's box.
OVERLAPS = """(step) => {
  const exit = document.querySelector("a.quick-exit");
  const visible = (element) => {
    const r = element.getBoundingClientRect();
    let box = {l: r.left, t: r.top, r: r.right, b: r.bottom};
    for (let a = element.parentElement; a; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.overflowX === "visible" && style.overflowY === "visible") { continue; }
      const q = a.getBoundingClientRect();
      box = {l: Math.max(box.l, q.left), t: Math.max(box.t, q.top),
             r: Math.min(box.r, q.right), b: Math.min(box.b, q.bottom)};
    }
    box = {l: Math.max(box.l, 0), t: Math.max(box.t, 0),
           r: Math.min(box.r, innerWidth), b: Math.min(box.b, innerHeight)};
    return box.r > box.l && box.b > box.t ? box : null;
  };
  const scrollers = [document.scrollingElement, ...document.querySelectorAll("body *")].filter(
    (e) => e.scrollHeight > e.clientHeight + 1 && (e === document.scrollingElement ||
      ["auto", "scroll"].includes(getComputedStyle(e).overflowY)));
  if (scrollers.length === 0) { scrollers.push(document.scrollingElement); }
  const found = [];
  let positions = 0;
  for (const scroller of scrollers) {
    const end = scroller.scrollHeight - scroller.clientHeight;
    for (let y = 0; ; y = Math.min(y + step, end)) {
      scroller.scrollTop = y;
      positions += 1;
      const e = exit.getBoundingClientRect();
      for (const element of document.body.querySelectorAll("*")) {
        if (element.contains(exit) || exit.contains(element)) { continue; }
        const b = visible(element);
        if (b && b.l < e.right && e.left < b.r && b.t < e.bottom && e.top < b.b) {
          found.push(`${element.tagName}.${element.className} "${
            (element.textContent || "").trim().slice(0, 30)}" at ${y}`);
        }
      }
      if (y >= end) { break; }
    }
    scroller.scrollTop = 0;
  }
  return {found: found.slice(0, 10), positions};
}"""


@pytest.fixture(params=list(SIZES), ids=list(SIZES))
def small_phone(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A small phone, JavaScript on (axe-core needs it); no page may log an error to the
    console (a CSP refusal, say: Lighthouse's best practices count them)."""
    context = browser.new_context(viewport=SIZES[request.param], device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    yield page
    context.close()
    # The pages answering 400 and 404 are logged as such: a status, not a fault of the page.
    assert not [text for text in errors if not text.startswith("Failed to load resource")], errors


def check_page(page: Page, what: str) -> None:
    """The quick exit meets no other element's visible box; axe-core finds nothing."""
    page.wait_for_load_state()
    result = page.evaluate(OVERLAPS, SCROLL_STEP)
    assert result["positions"] >= 1
    assert not result["found"], f"{what}: the quick exit covers {result['found']}"
    exit_box = page.locator("a.quick-exit").bounding_box()
    size = page.viewport_size
    assert exit_box and size and exit_box["y"] + exit_box["height"] <= size["height"]
    assert exit_box["height"] >= 44 and exit_box["width"] >= 44
    small = page.evaluate(SMALL_TARGETS)
    assert not small, f"{what}: targets under 24×24: {small}"
    axe = Axe().run(page)
    assert axe.violations_count == 0, f"{what}: {axe.generate_report()}"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert size and width <= size["width"], f"{what}: the page scrolls sideways"


def assert_summary_focused(page: Page) -> None:
    """The page opened at its summary of problems (autofocus, applied at the first paint)."""
    for _ in range(50):  # wait_for_function would need 'unsafe-eval', which the CSP refuses
        if page.evaluate("document.activeElement.classList.contains('summary')"):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the summary of problems has no focus")


def first_screen_bottom(page: Page) -> float:
    """Where the scrolling page ends on screen (the quick exit's bar is below it)."""
    return float(page.evaluate("document.querySelector('body.child > .page').clientHeight"))


def on_first_screen(page: Page, selector: str) -> bool:
    """The first element matching `selector` is whole on the first screen, above the bar."""
    box = page.locator(selector).first.bounding_box()
    return bool(box and box["y"] >= 0 and box["y"] + box["height"] <= first_screen_bottom(page))


def shoot(page: Page, tmp_path: Path, name: str, language: str, size: str) -> None:
    """Screenshots of the Russian pages: the first screen at each size, the whole at 360."""
    if language != "ru":
        return
    page.screenshot(path=screenshot_path(tmp_path, f"child-{name}-{size}"))
    if size == "360x740":
        page_screenshot(page, screenshot_path(tmp_path, f"child-{name}-whole"))


def receipt_rows(page: Page) -> list[int]:
    """How many of the receipt's four groups sit on each line."""
    tops = page.evaluate(
        "[...document.querySelectorAll('.digits .pair > span')]"
        ".map((s) => Math.round(s.getBoundingClientRect().top))"
    )
    return [tops.count(top) for top in sorted(set(tops))]


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_every_child_page_on_a_small_phone(
    small_phone: Page,
    live_server: str,
    school_code: str,
    language: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    page = small_phone
    size = str(request.node.callspec.params["small_phone"])
    school = f"{live_server}/s/{school_code}?lang={language}"

    page.goto(school)
    fresh_title = page.title()
    check_page(page, "fresh form")
    way_down = page.locator(".to-form a")
    box = way_down.bounding_box()
    assert box and box["y"] + box["height"] <= first_screen_bottom(page), "no way to the form"
    shoot(page, tmp_path, "form", language, size)
    way_down.click()
    assert page.locator("#write-title").bounding_box()["y"] < first_screen_bottom(page)  # type: ignore[index]

    # Only spaces: the browser's `required` lets it through, the server finds the problem.
    page.goto(school)
    page.locator("textarea#message").fill("   ")
    page.locator("button.send").click()
    assert_summary_focused(page)
    summary = page.locator(".summary").bounding_box()
    assert summary and summary["y"] + 40 <= first_screen_bottom(page)
    assert page.title().endswith(fresh_title) and page.title() != fresh_title
    check_page(page, "form after an error")
    shoot(page, tmp_path, "form-error", language, size)

    # Enter in the form without script presses the hidden default button: the same page back.
    page.goto(school)
    page.locator("textarea#message").fill(TEXT)
    with page.expect_navigation():
        page.locator("button[name=enter]").evaluate("(button) => button.click()")
    assert_summary_focused(page)
    check_page(page, "form after Enter")

    # The same page sent twice: the second answer shows nothing of the first.
    page.goto(school)
    used = page.locator("input[name=csrf_token]").input_value()
    page.locator("textarea#message").fill(TEXT)
    page.locator("button.send").click()
    page.goto(school)
    page.locator("input[name=csrf_token]").evaluate(
        "(input, used) => { input.value = used; }", used
    )
    page.locator("textarea#message").fill(TEXT)
    page.locator("button.send").click()
    assert page.locator(".receipt").count() == 0 and TEXT not in page.content()
    check_page(page, "page sent again")

    page.goto(school)
    page.locator("textarea#message").fill(TEXT)
    page.locator("button.send").click()
    check_page(page, "thanks")
    assert on_first_screen(page, "a[href='tel:112']"), "thanks: the numbers come first"
    assert on_first_screen(page, ".receipt .digits"), "thanks: the code under them"
    assert receipt_rows(page) in ([4], [2, 2]), page.content()[:3000]  # never 3 + 1
    receipt = re.sub(r"\D", "", page.locator(".receipt .digits").inner_text())
    assert len(receipt) == 16
    shoot(page, tmp_path, "thanks", language, size)

    page.goto(school)
    page.locator("textarea#message").fill(TEXT)
    page.locator("input[name=danger][value=yes]").check()
    page.locator("button.send").click()
    assert page.locator("h1").count() == 1
    assert on_first_screen(page, "a[href='tel:112']")
    check_page(page, "danger thanks")
    shoot(page, tmp_path, "thanks-danger", language, size)

    page.goto(f"{live_server}/check?lang={language}")
    check_page(page, "check")
    shoot(page, tmp_path, "check", language, size)
    page.locator("#receipt").fill("0000 0000 0000 0000")
    page.locator("button.send").click()
    assert_summary_focused(page)
    check_page(page, "wrong code")
    shoot(page, tmp_path, "wrong-code", language, size)

    page.locator("#receipt").fill(receipt)
    page.locator("button.send").click()
    assert TEXT in page.locator(".conversation").inner_text()
    check_page(page, "conversation")
    assert on_first_screen(page, "a[href='tel:112']"), "conversation: the numbers come first"
    assert on_first_screen(page, "h1"), "conversation: its heading under them"
    shoot(page, tmp_path, "conversation", language, size)

    page.goto(f"{live_server}/s/NO-SUCH-CODE?lang={language}")
    check_page(page, "wrong link")
    page.goto(f"{live_server}/?lang={language}")
    check_page(page, "front page")


def test_enter_in_the_form_sends_nothing(
    phone: Page,
    live_server: str,
    school_code: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """Only the "Send" button sends. Enter in a radio (or the grade, where the browser may
    open its list instead) makes the browser press the form's first submit button: a hidden
    one, whose page comes back with every answer kept and says to press Send (without
    JavaScript; with it, exit.js keeps Enter on a radio quiet)."""
    phone.goto(f"{live_server}/s/{school_code}")
    phone.locator("textarea#message").fill(TEXT)
    phone.locator("input[name=category][value=bullying]").check()
    phone.locator("select#grade").select_option("7")
    phone.locator("input[name=danger][value=yes]").check()
    for control in ("input[name=danger][value=yes]", "input[name=category]", "select#grade"):
        phone.locator(control).first.press("Enter")
        phone.wait_for_load_state()
        phone.wait_for_timeout(300)
        assert phone.locator(".receipt").count() == 0 and phone.locator("#write").count() == 1
        assert phone.locator("textarea#message").input_value() == TEXT
        assert phone.locator("input[name=danger][value=yes]").is_checked()
        assert phone.locator("input[name=category][value=bullying]").is_checked()
        assert phone.locator("select#grade").input_value() == "7"
        if request.node.callspec.id == "nojs" and control.startswith("input[name=danger]"):
            assert_summary_focused(phone)
            assert "Сообщение ещё не отправлено" in phone.locator(".summary").inner_text()
            phone.screenshot(path=screenshot_path(tmp_path, "child-form-enter-nojs-360x740"))
    phone.keyboard.press("Escape")  # the grade's list, if Enter opened it
    phone.get_by_role("button", name="Отправить").click()
    assert phone.locator(".receipt .digits").count() == 1


def test_back_after_leaving_finds_no_answer_page(
    phone: Page, live_server: str, school_code: str, request: pytest.FixtureRequest
) -> None:
    """A parent who goes Back on the child's phone: with JavaScript, the receipt's entry is the
    front page; the school's page comes back empty. Without, Back offers the form again (the
    note under the form says to delete the history)."""
    phone.route(re.compile(r"^https://"), neutral)  # the exit site: never leave 127.0.0.1
    phone.goto(f"{live_server}/s/{school_code}")
    phone.locator("textarea#message").fill(TEXT)
    phone.locator("button.send").click()
    phone.locator("a.button").click()  # "Read the answer"
    phone.locator("a.quick-exit").click()
    phone.wait_for_url(re.compile(r"^https://"))
    phone.go_back()
    if request.node.callspec.id == "nojs":
        return  # a plain link: what remains is said under the form
    assert phone.url.startswith(f"{live_server}/?lang=")
    assert phone.locator(".receipt").count() == 0
    phone.go_back()
    assert f"/s/{school_code}" in phone.url
    assert phone.locator("textarea#message").input_value() == ""


def neutral(route: Route) -> None:
    """An ordinary website."""
    route.fulfill(status=200, content_type="text/html; charset=utf-8", body=f"<h1>{NEUTRAL}</h1>")
