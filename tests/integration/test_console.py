"""The operator console (CONTRACT.md Part 3, "Operator console") in headless Chromium,
through the real stack: nginx serves web/console/, and every action the page takes is a
public API call (nginx -> workers -> PostgreSQL + memcached + the Stripe double).

Written from the contract and issue 15's list: sign in (a wrong token shows a clear message
and keeps nothing), the list filtered by property and status, a hold's timeline, an
itemized capture with an uploaded photo (keyboard only), release, refund, a dispute's
status and submit, the guest link, failed notifications; nothing in localStorage or
cookies; axe-core finds no serious or critical violation; screenshots at 1280 and 375 px.
"""

import datetime
import urllib.parse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import ALPHA_TOKEN, unique, wait_until
from test_disputes import captured_claim, open_dispute
from test_notifications import (  # noqa: F401 (the fixtures, used by name)
    created_and_captured, notify_stack, receiver, wait_for_clients)
from test_webhooks import drain

WAIT_S = 15
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * 200
WIDTHS = (1280, 375)


# ---------------------------------------------------------------- helpers

def console_url(stack, fragment=""):
    return f"http://127.0.0.1:{stack.http_port}/console/{fragment}"


def wait_for(browser, predicate, what):
    return WebDriverWait(browser.driver, WAIT_S, poll_frequency=0.1).until(
        lambda d: predicate(d), message=what)


def css(browser, selector):
    return browser.driver.find_elements(By.CSS_SELECTOR, selector)


def choose(browser, name, value):
    """Picks the option of <select name=…> by its value. Typing the option's text instead
    relies on the select's type-ahead, which restarts when keystrokes arrive over a second
    apart (a loaded machine: it picked another option in an ASan run)."""
    Select(css(browser, f"select[name={name}]")[0]).select_by_value(value)


def text_of(browser, selector):
    """The rendered text of every match, read in one script (the page re-renders)."""
    return browser.driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText).join(' ');",
        selector)


def heading(browser):
    return text_of(browser, "main h1")


def type_keys(browser, *keys):
    """Key presses to whatever has the focus (no element is clicked)."""
    ActionChains(browser.driver).send_keys(*keys).perform()


def active(browser, attribute):
    return browser.driver.switch_to.active_element.get_attribute(attribute)


def tab_to(browser, predicate, what, limit=60):
    """TAB until the focused element satisfies predicate(element)."""
    for _ in range(limit):
        if predicate(browser.driver.switch_to.active_element):
            return
        type_keys(browser, Keys.TAB)
    raise AssertionError(f"TAB never reached {what}")


def storage(browser):
    return browser.driver.execute_script(
        "return {local: localStorage.length, session: sessionStorage.length,"
        " cookie: document.cookie};")


def assert_nothing_persisted(browser):
    kept = storage(browser)
    assert kept["local"] == 0 and kept["cookie"] == "", kept
    assert browser.driver.get_cookies() == []


def assert_accessible(browser, page):
    bad = [v for v in browser.axe() if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{page}: {bad}"


def shoot(browser, name):
    for width in WIDTHS:
        browser.screenshot(f"console-{name}", width)
    # The page stays usable at phone width: nothing wider than the viewport.
    browser.width(375)
    try:
        overflow = browser.driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{name} scrolls sideways at 375 px by {overflow}px"
    finally:
        browser.width(1280)


def sign_in(browser, stack, token=ALPHA_TOKEN, fragment=""):
    browser.driver.get(console_url(stack))
    browser.reset()
    browser.driver.get(console_url(stack, fragment))
    wait_for(browser, lambda d: heading(browser) == "Sign in", "the sign-in page")
    field = css(browser, "input[name=token]")[0]
    field.send_keys(token, Keys.ENTER)


def signed_in(browser, stack, fragment="#/holds"):
    sign_in(browser, stack, fragment=fragment)
    wait_for(browser, lambda d: heading(browser) != "Sign in", "signed in")


def open_hold(browser, stack, hold_id):
    browser.driver.get(console_url(stack, f"#/hold/{urllib.parse.quote(hold_id)}"))
    if heading(browser) == "Sign in" or not storage(browser)["session"]:
        signed_in(browser, stack, f"#/hold/{urllib.parse.quote(hold_id)}")
    wait_for(browser, lambda d: css(browser, "#timeline li"), "the hold's timeline")


def reload_until(browser, predicate, what):
    def check(_):
        if predicate():
            return True
        browser.driver.refresh()
        return False
    WebDriverWait(browser.driver, WAIT_S, poll_frequency=0.5).until(check, message=what)


def list_rows(browser):
    """The rows of the list on show (not of one that filter_list() replaced)."""
    return [r.text for r in css(browser, "table.holds:not([data-replaced]) tbody tr")]


def filter_list(browser, *keys):
    """Types keys into the property filter and submits the filters. The list on show is
    marked first: the URL changes before the page renders the new list, and a wait must not
    take the old list's rows for the new one's."""
    browser.driver.execute_script(
        "document.querySelectorAll('table.holds').forEach(t => { t.dataset.replaced = 1; });")
    css(browser, "input[name=property_id]")[0].send_keys(*keys, Keys.ENTER)


def authorized(stack, **fields):
    hold = stack.create_hold(amount=25000, **fields)
    assert stack.confirm(hold["id"]).status == 200
    wait_until(lambda: stack.get_hold(hold["id"]).json["status"] == "requires_capture", WAIT_S,
               "the authorization")
    # Its `authorized` event comes with the webhook, which may trail Stripe's answer.
    wait_until(lambda: "authorized" in event_types(stack, hold["id"]), WAIT_S,
               "the authorized event")
    return hold


def event_types(stack, hold_id):
    answer = stack.api("GET", f"/api/holds/{hold_id}/events?limit=100")
    assert answer.status == 200, answer
    return [e["type"] for e in answer.json["data"]]


# ---------------------------------------------------------------- sign in

def test_a_wrong_token_shows_a_clear_message_and_keeps_nothing(stack, browser):
    sign_in(browser, stack, token="tok_not_a_real_token")
    wait_for(browser, lambda d: css(browser, ".message.error"), "the error message")
    message = text_of(browser, ".message.error")
    assert "not accepted" in message and "401" in message, message
    assert heading(browser) == "Sign in"
    kept = storage(browser)
    assert kept["session"] == 0, kept
    assert_nothing_persisted(browser)
    assert css(browser, "input[name=token]")[0].get_attribute("value") == ""
    assert_accessible(browser, "sign-in with an error")


def test_sign_in_keeps_the_token_in_the_session_only(stack, browser):
    browser.driver.get(console_url(stack))
    browser.reset()
    browser.driver.refresh()
    wait_for(browser, lambda d: heading(browser) == "Sign in", "the sign-in page")
    assert_accessible(browser, "sign-in")
    shoot(browser, "signin")
    css(browser, "input[name=token]")[0].send_keys(ALPHA_TOKEN, Keys.ENTER)
    wait_for(browser, lambda d: heading(browser) == "Holds", "the holds page")
    assert browser.driver.execute_script(
        "return sessionStorage.getItem('chittycharge.console.token')") == ALPHA_TOKEN
    assert_nothing_persisted(browser)
    # Signing out forgets it.
    css(browser, "#sign-out")[0].send_keys(Keys.ENTER)
    wait_for(browser, lambda d: heading(browser) == "Sign in", "signed out")
    assert storage(browser)["session"] == 0
    assert_nothing_persisted(browser)


def test_money_is_shown_per_currency_from_minor_units(stack, browser):
    """format.js, the console's own module, as the pages use it (JPY has no minor unit)."""
    browser.driver.get(console_url(stack))
    shown = browser.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('./format.js').then(f => done({"
        " money: [[25000, 'usd'], [30, 'gbp'], [12345, 'eur'], [5000, 'jpy'], [199, 'cad']]"
        "   .map(([m, c]) => f.money(m, c)),"
        " minor: [['120.5', 'usd'], ['1,200.00', 'usd'], ['.5', 'usd'], ['5000', 'jpy'],"
        "         ['50.5', 'jpy'], ['120.505', 'usd'], ['abc', 'usd'], ['', 'usd']]"
        "   .map(([t, c]) => f.toMinor(t, c))}))"
        ".catch(e => done({error: String(e)}));")
    assert shown == {"money": ["$250.00", "£0.30", "€123.45", "¥5,000", "CA$1.99"],
                     "minor": [12050, 120000, 50, 5000, None, None, None, None]}, shown


# ---------------------------------------------------------------- the list

def test_the_list_filters_by_property_and_by_status(stack, browser):
    prop, other = unique("prop-console"), unique("prop-other")
    waiting = stack.create_hold(property_id=prop, description="Flat 3, waiting for the guest")
    held = authorized(stack, property_id=prop, description="Flat 3, authorized")
    elsewhere = stack.create_hold(property_id=other, description="Another flat")

    signed_in(browser, stack)
    assert_accessible(browser, "holds")
    filter_list(browser, prop)
    wait_for(browser, lambda d: "property_id=" in d.current_url and len(list_rows(browser)) == 2,
             "the property's two holds")
    rows = " ".join(list_rows(browser))
    assert waiting["id"] in rows and held["id"] in rows and elsewhere["id"] not in rows
    assert "$250.00" in rows and "$50.00" in rows  # minor units shown per currency

    choose(browser, "status", "requires_capture")
    filter_list(browser)
    wait_for(browser, lambda d: "status=requires_capture" in d.current_url
             and len(list_rows(browser)) == 1, "the authorized hold only")
    assert held["id"] in list_rows(browser)[0]
    assert "requires capture" in list_rows(browser)[0]

    # Expiring soon: the authorization ends 7 days after it began, so within 7 days but
    # not within 2; the one still waiting for its guest has no end and never shows. The
    # page's clock is set to exactly 7 days before that end (and 0.4 s): the window's last
    # second is the authorization's, as when the list is asked for in the second the
    # authorization began (an ASan run did so once).
    ends = datetime.datetime.fromisoformat(
        stack.get_hold(held["id"]).json["expires_at"].replace("Z", "+00:00")).timestamp()
    browser.driver.execute_script(
        "const now = arguments[0]; Date.now = () => now;", (ends - 168 * 3600 + 0.4) * 1000)
    choose(browser, "status", "")
    choose(browser, "expiring", "168")
    filter_list(browser)
    wait_for(browser, lambda d: "expiring=168" in d.current_url
             and "status=" not in d.current_url and len(list_rows(browser)) == 1,
             "the hold expiring within 7 days")
    assert held["id"] in list_rows(browser)[0]
    choose(browser, "expiring", "48")
    filter_list(browser)
    wait_for(browser, lambda d: "expiring=48" in d.current_url
             and "No holds match." in text_of(browser, ".count"), "none within 2 days")
    choose(browser, "expiring", "")
    choose(browser, "status", "requires_capture")
    shoot(browser, "holds")
    assert_nothing_persisted(browser)


# ---------------------------------------------------------------- one hold

def test_an_itemized_capture_with_an_uploaded_photo_keyboard_only(stack, browser, tmp_path):
    hold = authorized(stack, property_id=unique("prop-claim"), description="Flat 12, deposit")
    hold_id = hold["id"]
    open_hold(browser, stack, hold_id)
    timeline = text_of(browser, "#timeline")
    assert "created" in timeline and "authorized" in timeline, timeline
    assert_accessible(browser, "an authorized hold")
    shoot(browser, "hold")

    # The photo: the file input takes the path (as a keyboard user's file dialog would),
    # then ENTER on the Upload button.
    photo = tmp_path / "lamp.jpg"
    photo.write_bytes(JPEG)
    css(browser, "#evidence input[type=file]")[0].send_keys(str(photo))
    css(browser, "#evidence button[type=submit]")[0].send_keys(Keys.ENTER)
    wait_for(browser, lambda d: "lamp.jpg" in text_of(browser, "#evidence .files"),
             "the uploaded photo listed")
    file_id = css(browser, "#evidence .files code")[0].text
    assert file_id.startswith("file_")
    assert "evidence_added" in text_of(browser, "#timeline")

    # The capture form, keys only: from the page's heading, TAB to the first item.
    browser.driver.execute_script("document.querySelector('main h1').focus()")
    tab_to(browser, lambda e: e.get_attribute("name") == "description", "the first description")
    type_keys(browser, "Broken bedside lamp", Keys.TAB, "120.00", Keys.TAB)
    assert active(browser, "name") == "category"
    type_keys(browser, "d")  # damage
    type_keys(browser, Keys.TAB)
    assert active(browser, "name") == "evidence" and active(browser, "value") == file_id
    type_keys(browser, Keys.SPACE)
    tab_to(browser, lambda e: e.text == "Add item", "Add item")
    type_keys(browser, Keys.ENTER)
    assert active(browser, "name") == "description"  # the new item's
    type_keys(browser, "Extra cleaning", Keys.TAB, "45", Keys.TAB)
    type_keys(browser, "c")  # cleaning
    tab_to(browser, lambda e: e.get_attribute("name") == "reason", "the reason")
    type_keys(browser, "checkout inspection")
    assert "$165.00" in text_of(browser, "#capture .total")
    type_keys(browser, Keys.ENTER)

    wait_for(browser, lambda d: css(browser, "#claim"), "the claim shown")
    claim = text_of(browser, "#claim")
    assert "Broken bedside lamp" in claim and "Extra cleaning" in claim, claim
    assert "$120.00" in claim and "$45.00" in claim and "$165.00" in claim and file_id in claim
    assert "Captured $165.00." in text_of(browser, ".message.ok")
    assert "captured" in text_of(browser, "#timeline")

    answer = stack.get_hold(hold_id).json
    assert answer["status"] == "succeeded" and answer["amount_captured"] == 16500
    assert answer["claim"]["items"] == [
        {"description": "Broken bedside lamp", "amount": 12000, "category": "damage",
         "evidence": [file_id]},
        {"description": "Extra cleaning", "amount": 4500, "category": "cleaning", "evidence": []}]
    assert f"lamp.jpg ({file_id})" in claim
    assert "evidence_added" in event_types(stack, hold_id)
    assert_accessible(browser, "a captured hold")
    shoot(browser, "hold-claim")
    assert_nothing_persisted(browser)


def test_an_api_error_is_shown_verbatim_with_its_code(stack, browser):
    hold = authorized(stack, description="Too much claimed")
    open_hold(browser, stack, hold["id"])
    css(browser, "#capture [name=description]")[0].send_keys("A new sofa")
    css(browser, "#capture [name=amount]")[0].send_keys("900.00", Keys.ENTER)
    wait_for(browser, lambda d: css(browser, "#capture .message.error"), "the API's error")
    message = text_of(browser, "#capture .message.error")
    assert "capture_exceeds_capturable" in message and "400" in message, message
    assert stack.get_hold(hold["id"]).json["status"] == "requires_capture"


def test_release(stack, browser):
    hold = authorized(stack, description="Released from the console")
    open_hold(browser, stack, hold["id"])
    css(browser, "#release [name=reason]")[0].send_keys("no damage found", Keys.ENTER)
    wait_for(browser, lambda d: "The hold was released." in text_of(browser, ".message.ok"),
             "the release")
    assert "canceled" in text_of(browser, ".facts")
    assert not css(browser, "#capture")
    assert stack.get_hold(hold["id"]).json["status"] == "canceled"
    assert "canceled" in event_types(stack, hold["id"])


def test_refund(stack, browser):
    hold = captured_claim(stack)  # 120.00 + 45.50 + 25.00 captured
    open_hold(browser, stack, hold["id"])
    css(browser, "#refund [name=amount]")[0].send_keys("45.50")
    css(browser, "#refund [name=reason]")[0].send_keys("stain came out", Keys.ENTER)
    wait_for(browser, lambda d: "$45.50 refunded in all" in text_of(browser, ".message.ok"),
             "the refund")
    assert stack.get_hold(hold["id"]).json["amount_refunded"] == 4550
    assert "refunded" in text_of(browser, "#timeline")
    assert_accessible(browser, "a refunded hold")


def test_a_disputed_hold_shows_its_dispute_and_submits_it(stack, browser):
    hold = captured_claim(stack)
    open_dispute(stack, hold["id"], reason="product_unacceptable")
    open_hold(browser, stack, hold["id"])
    dispute = text_of(browser, "#dispute")
    assert "needs response" in dispute and "product_unacceptable" in dispute, dispute
    assert "$190.50" in dispute and "not yet" in dispute
    assert_accessible(browser, "a disputed hold")
    shoot(browser, "dispute")

    # Not staged yet: the API's 409, verbatim.
    css(browser, "#dispute button")[0].send_keys(Keys.ENTER)
    wait_for(browser, lambda d: css(browser, "#dispute .message.error"), "the 409")
    assert "dispute_evidence_not_staged" in text_of(browser, "#dispute .message.error")

    report = stack.run_jobs()
    assert report["disputes_staged"] >= 1, report
    reload_until(browser, lambda: "Evidence staged\nyes" in text_of(browser, "#dispute"),
                 "the staged evidence")
    css(browser, "#dispute button")[0].send_keys(Keys.ENTER)
    wait_for(browser, lambda d: "Dispute evidence submitted" in text_of(browser, ".message.ok"),
             "the submission")
    drain(stack)
    assert stack.get_hold(hold["id"]).json["dispute"]["submitted_at"] is not None
    assert "dispute_submitted" in event_types(stack, hold["id"])


def test_the_guest_link_button(stack, browser):
    hold = stack.create_hold(description="Guest link from the console")
    probe = stack.api("POST", f"/api/holds/{hold['id']}/guest_link", {})
    if probe.status == 404 and probe.json.get("code") == "not_found":
        # POST /api/holds/:id/guest_link is being built on another branch; until it is
        # merged the button shows the API's 404 verbatim, which is checked here.
        open_hold(browser, stack, hold["id"])
        css(browser, "#guest-link button")[0].send_keys(Keys.ENTER)
        wait_for(browser, lambda d: "not_found" in text_of(browser, "#guest-link .message.error"),
                 "the 404 shown")
        pytest.skip("POST /api/holds/:id/guest_link answers 404 (not merged yet)")
    assert probe.status == 201, probe
    open_hold(browser, stack, hold["id"])
    css(browser, "#guest-link button")[0].send_keys(Keys.ENTER)
    wait_for(browser, lambda d: css(browser, "#guest-link input[name=url]"), "the link shown")
    url = css(browser, "#guest-link input[name=url]")[0].get_attribute("value")
    assert "/pay/" in url, url
    assert_accessible(browser, "a hold with its guest link")


# ---------------------------------------------------------------- notifications

def test_no_failed_notifications(stack, browser):
    """The shared stack has no notification endpoint: the page says there are none."""
    signed_in(browser, stack, "#/notifications")
    wait_for(browser, lambda d: heading(browser) == "Failed notifications", "the page")
    wait_for(browser, lambda d: "No failed notifications." in text_of(browser, ".count"),
             "the API's answer")
    assert_accessible(browser, "no failed notifications")


def test_failed_notifications_are_listed(notify_stack, receiver, browser):
    """A stack whose client endpoint (test_notifications' receiver) answers 500."""
    wait_for_clients(notify_stack)
    receiver.status = 500
    try:
        hold = created_and_captured(notify_stack)
        assert notify_stack.run_jobs()["notifications_failed"] >= 1
    finally:
        receiver.status = 200
    signed_in(browser, notify_stack, "#/notifications")
    wait_for(browser, lambda d: hold["id"] in text_of(browser, "table.notifications"),
             "the hold's failed notification")
    row = [r.text for r in css(browser, "table.notifications tbody tr") if hold["id"] in r.text][0]
    assert "hold.created" in row and "retrying" in row and "HTTP 500" in row, row
    assert_accessible(browser, "failed notifications")
    shoot(browser, "notifications")
    assert_nothing_persisted(browser)
