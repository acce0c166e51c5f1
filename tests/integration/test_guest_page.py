"""The guest page in headless Chromium through the real stack (CONTRACT.md Part 3, "Guest
links"; docs/guest-page.md): nginx → the worker (the link checked) → the static page →
Stripe.js (in sandbox mode the Stripe double's stand-in, through nginx) → the double.
Screenshots at 1280 and 375 px go to build/artifacts/screenshots."""

import datetime
import time
import urllib.parse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from browser import NARROW, WIDE

WAIT_S = 20


def rfc3339(unix):
    return datetime.datetime.fromtimestamp(unix, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def link_for(stack, hold_id):
    answer = stack.api("POST", f"/api/holds/{urllib.parse.quote(hold_id)}/guest_link")
    assert answer.status == 201, answer
    return answer.json["url"]


def events(stack, hold_id):
    answer = stack.api("GET", f"/api/holds/{hold_id}/events?limit=100")
    assert answer.status == 200, answer
    return [e["type"] for e in answer.json["data"]]


def wait(browser, condition):
    return WebDriverWait(browser.driver, WAIT_S).until(condition)


def visible(browser, element_id):
    return wait(browser, EC.visibility_of_element_located((By.ID, element_id)))


def open_page(browser, url):
    browser.reset()
    browser.driver.get(url)
    visible(browser, "terms")


def type_card(browser, number, expiry="12 / 34", cvc="123"):
    driver = browser.driver
    for name, value in (("cardnumber", number), ("exp-date", expiry), ("cvc", cvc)):
        field = driver.find_element(By.CSS_SELECTOR, f"#card-element input[name='{name}']")
        field.clear()
        field.send_keys(value)


def serious(violations):
    return [v for v in violations if v["impact"] in ("serious", "critical")]


@pytest.fixture
def hold(stack):
    return stack.create_hold(property_id="Lake House", amount=25000,
                             description="Security deposit, 3 nights")


def test_a_good_card_authorizes_the_hold_after_the_disclosure(stack, browser, hold):
    driver = browser.driver
    open_page(browser, link_for(stack, hold["id"]))
    assert driver.find_element(By.ID, "property").text == "Lake House"
    assert driver.find_element(By.ID, "amount").text == "$250.00"
    text = driver.find_element(By.ID, "disclosure-text").text
    assert "$250.00" in text and "Lake House" in text
    visible(browser, "pay-form")
    browser.screenshot("guest-page", WIDE)
    browser.screenshot("guest-page", NARROW)
    assert serious(browser.axe()) == []

    # Without ticking, the card cannot be confirmed: the button is disabled, and a
    # submit by Enter in the card field does nothing.
    submit = driver.find_element(By.ID, "submit")
    type_card(browser, "4242 4242 4242 4242")
    assert not submit.is_enabled()
    driver.find_element(By.CSS_SELECTOR, "#card-element input[name='cvc']").send_keys(Keys.ENTER)
    assert stack.stripe_pi(hold["id"])["status"] == "requires_payment_method"
    assert "disclosure_accepted" not in events(stack, hold["id"])

    # Keyboard only: tab to the checkbox, tick it with the space bar, submit with Enter.
    checkbox = driver.find_element(By.ID, "accept")
    checkbox.send_keys(Keys.SPACE)
    assert checkbox.is_selected() and submit.is_enabled()
    submit.send_keys(Keys.ENTER)
    title = visible(browser, "outcome")
    assert "authorized" in title.text.lower()
    assert stack.stripe_pi(hold["id"])["status"] == "requires_capture"
    browser.screenshot("guest-page-authorized", WIDE)
    browser.screenshot("guest-page-authorized", NARROW)

    def trail_done():
        kinds = events(stack, hold["id"])
        return "authorized" in kinds and kinds
    WebDriverWait(driver, WAIT_S).until(lambda _: trail_done())
    kinds = events(stack, hold["id"])
    assert kinds.index("disclosure_accepted") < kinds.index("authorized")

    # Opened again, the page shows the authorization with no card form.
    open_page(browser, driver.current_url)
    visible(browser, "outcome")
    assert not driver.find_element(By.ID, "pay-form").is_displayed()
    assert driver.find_elements(By.CSS_SELECTOR, "#card-element input") == []


def test_a_declined_card_shows_stripes_message_and_can_be_retried(stack, browser, hold):
    driver = browser.driver
    open_page(browser, link_for(stack, hold["id"]))
    visible(browser, "pay-form")
    driver.find_element(By.ID, "accept").click()
    type_card(browser, "4000 0000 0000 0002")
    driver.find_element(By.ID, "submit").click()
    error = wait(browser, EC.text_to_be_present_in_element((By.ID, "form-error"), "declined"))
    assert error
    assert driver.find_element(By.ID, "form-error").text == "Your card was declined."
    browser.screenshot("guest-page-declined", WIDE)
    browser.screenshot("guest-page-declined", NARROW)
    assert stack.stripe_pi(hold["id"])["status"] == "requires_payment_method"
    submit = driver.find_element(By.ID, "submit")
    assert submit.is_enabled() and driver.find_element(By.ID, "pay-form").is_displayed()

    type_card(browser, "4242 4242 4242 4242")  # the retry, with a good card
    submit.click()
    visible(browser, "outcome")
    assert stack.stripe_pi(hold["id"])["status"] == "requires_capture"


def test_an_expired_or_tampered_link_is_a_404_page(stack, browser, hold):
    url = link_for(stack, hold["id"])
    token = urllib.parse.urlsplit(url).path.split("/")[2]
    tampered = url.replace(token, ("0" if token[0] != "0" else "1") + token[1:])
    stack.sql(f"UPDATE guest_links SET expires_at = now() - interval '1 second', "
              f"created_at = now() - interval '73 hours' WHERE hold_id = '{hold['id']}'")
    for bad in (url, tampered):
        plain = stack.api("GET", urllib.parse.urlsplit(bad).path, token=None)
        assert plain.status == 404
        browser.reset()
        browser.driver.get(bad)
        heading = visible(browser, "title")
        assert "expired or invalid" in heading.text.lower()
        assert browser.driver.find_elements(By.ID, "card-element") == []
    browser.screenshot("guest-page-invalid", WIDE)
    browser.screenshot("guest-page-invalid", NARROW)
    assert serious(browser.axe()) == []


def test_a_scheduled_holds_link_saves_the_card(stack, browser):
    hold = stack.create_hold(customer_email="guest@example.com", property_id="Lake House",
                             authorize_at=rfc3339(int(time.time()) + 10 * 86400))
    driver = browser.driver
    open_page(browser, link_for(stack, hold["id"]))
    visible(browser, "pay-form")
    submit = driver.find_element(By.ID, "submit")
    assert submit.text == "Save card"
    driver.find_element(By.ID, "accept").click()
    type_card(browser, "4242 4242 4242 4242")
    submit.click()
    outcome = visible(browser, "outcome")
    assert "saved" in outcome.text.lower()
    setup = stack.stripe("GET", f"/v1/setup_intents/{hold['id']}").json
    assert setup["status"] == "succeeded" and setup["payment_method"]
    assert "disclosure_accepted" in events(stack, hold["id"])
    browser.screenshot("guest-page-card-saved", NARROW)
