"""Headless Chromium for the faces' tests (CONTRACT.md Part 3): Debian's `chromium` and
`chromium-driver`, driven by `python3-selenium`. The `browser` fixture (conftest.py) gives
one Browser per session; `.driver` is the selenium WebDriver, `.screenshot(name, width)`
saves a full-width PNG under CHITTYCHARGE_ARTIFACTS (default build/artifacts/screenshots).

The local stack's certificates are its own (self-signed), so certificate errors are
ignored; nothing else is relaxed.
"""

import contextlib
import os
import pathlib

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REPO = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = pathlib.Path(os.environ.get("CHITTYCHARGE_ARTIFACTS",
                                        REPO / "build" / "artifacts")) / "screenshots"
WIDE, NARROW = 1280, 375  # a laptop, a phone
AXE = pathlib.Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"


class Browser:
    def __init__(self, driver):
        self.driver = driver

    @classmethod
    @contextlib.contextmanager
    def start(cls):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--ignore-certificate-errors", f"--window-size={WIDE},900",
                    "--lang=en-US"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(30)
        try:
            yield cls(driver)
        finally:
            driver.quit()

    def width(self, width, height=900):
        self.driver.set_window_size(width, height)

    def screenshot(self, name, width=WIDE):
        """The current page at `width` px, as tall as its content: ARTIFACTS/<name>-<width>.png."""
        self.width(width)
        height = self.driver.execute_script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
        self.driver.set_window_size(width, max(600, min(int(height) + 120, 4000)))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}-{width}.png"
        self.driver.save_screenshot(str(path))
        self.width(WIDE)
        return path

    def reset(self):
        """A fresh session: no cookies, no session or local storage on the current origin."""
        self.driver.delete_all_cookies()
        with contextlib.suppress(Exception):
            self.driver.execute_script("sessionStorage.clear(); localStorage.clear();")

    def axe(self, tags=("wcag2a", "wcag2aa")):
        """axe-core's violations on the current page (labels, contrast, names, ...), as
        [{"id", "impact", "help", "nodes": [selector…]}]; [] when it passes."""
        self.driver.execute_script(AXE.read_text())
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' '))}))))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));",
            list(tags))
        return result

