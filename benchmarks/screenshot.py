"""The README's screenshot of the demo page: `python -m benchmarks.screenshot` (after `make run`) -> docs/demo.png.

Starts the API on the trained model and the default catalogue, opens `/` in Debian's headless Chromium
(Playwright), uploads a test image rendered as a product photo (`photos.photo_pixels`: dark on white, with
margins, 800 pixels, JPEG), waits for the answer and the explanation, and saves the page.
"""

import argparse
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from benchmarks.photos import DEFAULT, encode, photo_pixels
from benchmarks.serving import ROOT, free_port, start_server
from fmnist import data


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", type=int, default=0, help="which test image to upload")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "demo.png")
    arguments = parser.parse_args()
    _, (test_images, _) = data.load_data()
    photo = encode(photo_pixels(test_images[arguments.image], DEFAULT, np.random.default_rng(0)), DEFAULT["quality"])
    port = free_port()
    server = start_server(port, 1, ROOT / "models")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            upload = {"name": f"test-image-{arguments.image}.jpg", "mimeType": "image/jpeg", "buffer": photo}
            page.set_input_files("#file", files=[upload])
            page.wait_for_function("document.querySelector('#overlay').naturalWidth > 0", timeout=30_000)
            page.wait_for_function("[...document.querySelectorAll('#similar img')].every(i => i.naturalWidth > 0)")
            page.screenshot(path=arguments.output, full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait()
    print(f"wrote {arguments.output} ({np.round(arguments.output.stat().st_size / 1024)} KiB)")


if __name__ == "__main__":
    main()
