"""Headless Chromium (Debian's chromium + chromium-driver, installed by `make browser`)
for the tests that open the pages the tools make: `chromium_page(url)` loads a page and
hands back the driver; `console_errors(driver)` lists what the page logged as errors."""
import contextlib
import shutil

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _missing():
    return "headless Chromium is needed: run `make browser` (Debian: apt-get install chromium chromium-driver)"


@contextlib.contextmanager
def chromium(width=1280, height=900):
    assert CHROMIUM and CHROMEDRIVER, _missing()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=%d,%d" % (width, height)):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver):
    """The page's console errors and uncaught exceptions since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def broken_images(driver):
    """Sources of <img> elements that did not load."""
    return driver.execute_script(
        "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.src.slice(0, 80));")
