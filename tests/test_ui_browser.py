"""`vidsearch ui` in a real browser: headless Chromium (Debian's chromium and chromium-driver) loads the
page, runs a query, sees the thumbnails and plays a hit from its start."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from colour import ColourEmbedder
from videogen import Scene, solid, write_video

from vidsearch import Library
from vidsearch.index.indexer import update_index
from vidsearch.store import Store
from vidsearch.ui import UiServer

pytestmark = pytest.mark.skipif(
    not (shutil.which("chromedriver") and (shutil.which("chromium") or shutil.which("chromium-browser"))),
    reason="needs Chromium and its WebDriver (Debian: apt-get install chromium chromium-driver)",
)
# where to keep the page's screenshot (the README shows it); otherwise the test's own folder
SCREENSHOT_ENV = "VIDSEARCH_UI_SCREENSHOT"


def _wait(what: str, check: Callable[[], Any], seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"the page did not {what} within {seconds:.0f} s")
        time.sleep(0.1)


@pytest.fixture()
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, UiServer, Path]]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extras")
    monkeypatch.setattr("vidsearch.models.load_embedder", lambda *a, **k: ColourEmbedder())
    lib = tmp_path / "Videos"
    lib.mkdir()
    write_video(lib / "red.mp4", [Scene(solid((220, 20, 20)), 4)], fps=10, size=(320, 180))
    write_video(lib / "green then blue.mp4", [Scene(solid((20, 200, 20)), 4), Scene(solid((20, 20, 220)), 4)],
                fps=10, size=(320, 180))
    # MPEG-4 Part 2 (old cameras): a codec browsers do not play
    write_video(lib / "old camera.mp4", [Scene(solid((230, 30, 30)), 3)], fps=10, size=(320, 180), codec="mpeg4")
    db = tmp_path / "index.db"
    with Store.open(db) as store:
        update_index(store, [str(lib)], ColourEmbedder, None, model_name="lite")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,900", "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    with Library.open(db) as library:
        server = UiServer(library, player=lambda hits: "none")
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        browser = webdriver.Chrome(options=options, service=service)
        try:
            yield browser, server, lib
        finally:
            browser.quit()
            server.shutdown()
            thread.join(10)
            server.close()


@pytest.mark.slow
def test_a_query_shows_thumbnails_and_a_hit_plays_from_its_start(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser, server, lib = page
    browser.get(server.url)
    box = browser.find_element(By.ID, "q")
    box.send_keys("blue")
    browser.find_element(By.ID, "go").click()
    cards = _wait("show hits", lambda: browser.find_elements(By.CSS_SELECTOR, "#hits .hit"))
    first = cards[0]
    assert "green then blue.mp4" in first.find_element(By.CLASS_NAME, "name").text
    # every card's thumbnail has loaded as a picture
    _wait("load the thumbnails", lambda: browser.execute_script(
        "const imgs = [...document.querySelectorAll('#hits .hit img.still')];"
        "return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);"))
    # "why?" shows the hit's --explain breakdown
    first.find_element(By.CLASS_NAME, "why").click()
    breakdown = first.find_element(By.CLASS_NAME, "explain")
    assert breakdown.is_displayed() and "{" in breakdown.text and "no breakdown" not in breakdown.text
    first.find_element(By.CLASS_NAME, "why").click()
    start = float(first.get_attribute("data-start"))
    end = float(first.get_attribute("data-end"))
    assert start >= 3.5  # the blue half
    shot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "ui.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    # the page as a person first sees it: the query, its hits as thumbnails
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 5000
    # where the video is when it first plays: that is where the person starts watching
    browser.execute_script(
        "const v = document.getElementById('video');"
        "v.addEventListener('playing', () => { window.firstPlaying = v.currentTime; }, {once: true});")
    first.find_element(By.CLASS_NAME, "picture").click()
    _wait("open the video", lambda: browser.find_element(By.ID, "viewer").is_displayed())
    video = browser.find_element(By.ID, "video")
    error = lambda: browser.execute_script("return arguments[0].error && arguments[0].error.code;", video)  # noqa: E731
    began = _wait("start playing", lambda: error() or browser.execute_script(
        "return window.firstPlaying === undefined ? null : [window.firstPlaying];"))
    assert not isinstance(began, int), f"the browser could not play the video (MediaError {began})"
    assert start - 0.3 <= began[0] <= start + 0.5
    # it plays on, and stops at the moment's end
    _wait("stop at the moment's end", lambda: browser.execute_script(
        "const v = arguments[0]; return v.paused && v.currentTime >= arguments[1] - 0.3;", video, end))
    assert browser.execute_script("return arguments[0].currentTime;", video) <= end + 0.5


@pytest.mark.slow
def test_a_file_the_browser_cannot_play_says_so_and_offers_the_player(page) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser, server, _ = page
    browser.get(server.url)
    browser.find_element(By.ID, "q").send_keys("red")
    browser.find_element(By.ID, "go").click()
    _wait("show hits", lambda: browser.find_elements(By.CSS_SELECTOR, "#hits .hit"))
    old = next(card for card in browser.find_elements(By.CSS_SELECTOR, "#hits .hit")
               if "old camera.mp4" in card.find_element(By.CLASS_NAME, "name").text)
    old.find_element(By.CLASS_NAME, "picture").click()
    note = _wait("say it cannot play the file", lambda: (
        browser.find_element(By.ID, "viewer-note").is_displayed() and browser.find_element(By.ID, "viewer-note")))
    assert "open in player" in note.text and "mpeg4" in note.text
    assert browser.find_element(By.ID, "viewer-external").is_displayed()
    # the page's player action opens that moment (the server's player stands in for the user's)
    browser.find_element(By.ID, "viewer-external").click()
    _wait("say the player opened it", lambda: "Opened old camera.mp4" in browser.find_element(By.ID, "status").text)
