"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright; never a downloaded
browser): it loads, it updates without a reload when the simulator fills an entry, it fits a phone, and its red
Emergency Stop button stops entries - the strategy's next entry is refused with the kill switch's reason."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.live.kit import LiveNode

THETA = "ThetaHarvester-001"


def chromium_path() -> str:
    path = os.environ.get("ODTE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is not installed: apt-get install -y chromium (.ci/run installs it)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, control) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(control.url)
    yield page
    context.close()
    assert errors == [], f"the page's script failed: {errors}"


def test_the_page_loads_and_updates_when_a_fill_arrives(node: LiveNode, page: Page, browser: Browser, control):
    node.run_until("09:45")
    expect(page.get_by_test_id("emergency-stop")).to_be_visible()
    expect(page.get_by_test_id("risk-state")).to_have_text("ON")
    expect(page.get_by_test_id("strategies")).to_contain_text(THETA)
    expect(page.get_by_test_id("packages")).to_contain_text("no package held")
    expect(page.get_by_test_id("connection")).to_have_text("live")

    assert node.run_until("11:00", stop_when=lambda: bool(node.held_packages())), "no entry filled"
    [(_, package)] = node.held_packages()
    row = page.get_by_test_id("package")  # no reload: the event stream brought it
    expect(row).to_have_count(1, timeout=10_000)
    expect(row).to_contain_text(package)
    expect(row).to_contain_text("OPEN")
    expect(page.get_by_test_id("risk")).to_contain_text("1 / ")
    expect(page.get_by_test_id("decisions")).to_contain_text("allowed")

    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(control.url)
    button = phone.get_by_test_id("emergency-stop")
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None and box["width"] > 300 and box["y"] < 100, "the red button spans the top of a phone"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "nothing wider than the phone"
    phone.close()


def test_the_emergency_stop_button_stops_entries(node: LiveNode, page: Page):
    node.run_until("09:50")
    button = page.get_by_test_id("emergency-stop")
    expect(button).to_have_css("background-color", "rgb(217, 28, 28)")  # red
    button.click()
    expect(page.get_by_test_id("risk-state")).to_have_text("STOPPED", timeout=10_000)
    expect(page.get_by_test_id("alerts")).to_contain_text("Emergency Stop button")
    stop = [j for j in node.journal() if j["kind"] == "kill_switch"][-1]
    assert stop["on"] is True and stop["by"] == "dashboard"

    node.run_until("10:10")  # the strategy's first signal of the day comes at 10:00
    entries = [
        j
        for j in node.journal()
        if j["kind"] == "decision" and j["strategy"] == THETA and j["intent"]["kind"] == "entry"
    ]
    assert entries and {j["decision"]["code"] for j in entries} == {"KILL_SWITCH"}
    assert node.held_packages() == []
    expect(page.get_by_test_id("decisions")).to_contain_text("KILL_SWITCH", timeout=10_000)
