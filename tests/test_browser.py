"""The demo page and /docs in a real headless Chromium (Debian's package, driven by Playwright), offline."""

import os
import shutil

import pytest
import requests

from fmnist import CLASS_NAMES

from .helpers import api_server, png_bytes, require

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"  # Debian's package


def chromium_path() -> str:
    """$FMNIST_CHROMIUM, else Debian's Chromium, else an installed Google Chrome (GitHub's Ubuntu runners have
    one, and Ubuntu's chromium package is only a snap stub); skip, naming it, when there is none."""
    found = os.environ.get("FMNIST_CHROMIUM") or next(
        (path for path in (CHROMIUM, shutil.which("google-chrome")) if path and os.path.exists(path)), None
    )
    return found or require(CHROMIUM, "Debian's chromium package, or set FMNIST_CHROMIUM to a Chrome")


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def offline_page(browser, url, **options):
    """A page that may load only from the server at `url`; every other request fails and is recorded."""
    page = browser.new_page(**options)
    page.elsewhere = []

    def only_the_server(route):
        if route.request.url.startswith(url):
            return route.continue_()
        page.elsewhere.append(route.request.url)
        return route.abort()

    page.route("**/*", only_the_server)
    return page


def test_demo_page_classifies_an_upload_and_shows_similar_thumbnails(browser, serving_artifacts):
    photo = png_bytes("RGB", (120, 160), (230, 230, 230))
    with api_server(serving_artifacts) as (_, url):
        expected = requests.post(f"{url}/predict", files={"file": ("photo.png", photo)}, timeout=10).json()
        page = offline_page(browser, url)
        page.goto(url)
        page.set_input_files("#file", files=[{"name": "photo.png", "mimeType": "image/png", "buffer": photo}])
        page.wait_for_function("document.querySelector('#overlay').naturalWidth > 0", timeout=30_000)
        assert page.inner_text("#label") == expected["label"]
        top = page.locator("#top-classes li .name").all_inner_texts()
        assert len(top) == 3 and top[0] == expected["label"] and set(top) <= set(CLASS_NAMES)
        thumbnails = page.locator("#similar img")
        assert thumbnails.count() == 8
        page.wait_for_function("[...document.querySelectorAll('#similar img')].every(i => i.naturalWidth === 28)")
        assert thumbnails.first.get_attribute("src").startswith("/catalogue/items/item-")
        confidence = f"{100 * expected['confidence']:.1f} % sure"
        if expected["needs_review"]:
            verdict, said = "needs review", f"a person should check it (runner-up: {expected['runner_up']})."
        else:
            verdict, said = "auto-tagged", "tagged automatically."
        assert page.inner_text("#status") == f"photo.png: {expected['label']}, {confidence}; {said}"
        assert page.inner_text("#review") == verdict
        assert page.elsewhere == []


def test_demo_page_shows_a_photo_models_own_classes_and_input(browser, photo_artifacts):
    photo = png_bytes("RGB", (160, 120), (200, 40, 40))
    with api_server(photo_artifacts) as (_, url):
        classes = requests.get(f"{url}/healthz", timeout=10).json()["classes"]
        page = offline_page(browser, url)
        page.goto(url)
        page.wait_for_function(f"document.querySelector('#class-count').textContent === '{len(classes)}'")
        assert page.inner_text("#class-names") == ", ".join(classes)
        assert page.inner_text("#model-input").startswith("32 × 32 colour pixels")
        page.set_input_files("#file", files=[{"name": "photo.png", "mimeType": "image/png", "buffer": photo}])
        page.wait_for_function("document.querySelector('#overlay').naturalWidth > 0", timeout=30_000)
        assert set(page.locator("#top-classes li .name").all_inner_texts()) <= set(classes)
        assert page.elsewhere == []


def test_demo_page_explains_a_bad_file_and_takes_a_random_catalogue_item(browser, serving_artifacts):
    with api_server(serving_artifacts) as (_, url):
        page = offline_page(browser, url, viewport={"width": 390, "height": 844})  # a phone
        page.goto(url)
        page.set_input_files("#file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}])
        page.wait_for_selector("#status.error")
        assert "not a readable image" in page.inner_text("#status")
        page.click("#random")
        page.wait_for_function("document.querySelector('#overlay').naturalWidth > 0", timeout=30_000)
        assert page.inner_text("#status").startswith("Item ")  # the catalogue item's title
        assert page.inner_text("#label") in CLASS_NAMES
        # on a phone the page is one column and nothing is wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert page.elsewhere == []


def test_docs_lists_the_endpoints_without_network_access(browser, serving_artifacts):
    with api_server(serving_artifacts) as (_, url):
        page = offline_page(browser, url)
        page.goto(f"{url}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = set(page.locator(".opblock-summary-path").all_inner_texts())
        expected = {"/predict", "/similar", "/explain", "/catalogue", "/catalogue/items/{item_id}/thumbnail.png"}
        assert expected <= {path.replace("\u200b", "") for path in paths}
        assert page.elsewhere == []
