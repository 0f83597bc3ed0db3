"""The web gallery of `hopid serve`: over HTTP (files, path traversal, results) and in a real
headless Chromium (Debian's chromium + chromium-driver, driven by Selenium)."""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlencode

import numpy as np
import pytest
from conftest import render_words
from PIL import Image
from typer.testing import CliRunner

from hopid.index.build import build_index
from hopid.search.searcher import Searcher
from hopid.serve.server import make_server
from hopid_cli.app import app

WORDS = {"zorbex.png": ["ZORBEX"], "klaxo.png": ["Klaxo", "Bakery"], "gate.png": ["Gate", "63"]}
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def serve(index_dir: Path, images: Path | None = None):
    server = make_server(Searcher(index_dir), "127.0.0.1", 0, images=images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_encoder):
    root = tmp_path_factory.mktemp("photos")
    for name, words in WORDS.items():
        render_words(root / name, words)
    (root.parent / "secret.txt").write_text("not an image of the index")
    build_index(root, tiny_encoder)
    server = serve(root / ".hopid")
    yield root, server.server_address[1]
    server.shutdown()
    server.server_close()


def get(port: int, path: str, method: str = "GET", body: bytes | None = None) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def results(port: int, payload: dict) -> dict:
    status, _, data = get(port, "/api/results", "POST", json.dumps(payload).encode())
    assert status == 200, data
    return json.loads(data)


def test_page_assets_and_indexed_images_only(served):
    root, port = served
    status, kind, page = get(port, "/?q=zorbex&k=3")
    assert status == 200 and kind.startswith("text/html") and b"/assets/gallery.js" in page
    assert b"http" not in page.replace(b"http-equiv", b"")  # nothing from a CDN
    assert get(port, "/assets/gallery.js")[0] == 200 and get(port, "/assets/gallery.css")[0] == 200
    assert get(port, "/assets/../server.py")[0] == 404 and get(port, "/assets/nothing.js")[0] == 404

    image = str(root / "zorbex.png")
    status, kind, data = get(port, f"/image?path={quote(image)}")
    assert status == 200 and kind == "image/png" and data == (root / "zorbex.png").read_bytes()
    status, kind, thumb = get(port, f"/thumb?path={quote(image)}")
    assert status == 200 and kind == "image/jpeg" and max(Image.open(io.BytesIO(thumb)).size) <= 320
    cached = list((root / ".hopid" / "thumbs").glob("*.jpg"))
    assert len(cached) == 1 and cached[0].read_bytes() == thumb  # made once, kept beside the index
    assert get(port, f"/thumb?path={quote(image)}")[2] == thumb

    outside = [root.parent / "secret.txt", root / ".." / "secret.txt", "../secret.txt", "/etc/passwd"]
    for path in outside:
        assert get(port, f"/image?path={quote(str(path))}")[0] == 403, path
    for path in [root / ".hopid" / "manifest.json", "missing.png", ""]:  # inside, but not an indexed image
        assert get(port, f"/image?path={quote(str(path))}")[0] == 404, path
    assert get(port, "/image?path=zorbex.png")[0] == 200  # relative to the images folder


def test_results_are_the_search_hits_with_ocr_words_and_entities(served):
    root, port = served
    status, _, plain = get(port, "/search", "POST", json.dumps({"text": "the ZORBEX sign", "k": 3}).encode())
    found = results(port, {"text": "the ZORBEX sign", "k": 3})
    assert [{k: v for k, v in hit.items() if k not in ("ref", "ocr", "size")} for hit in found["hits"]] == json.loads(
        plain
    )
    top = found["hits"][0]
    assert top["path"] == str(root / "zorbex.png") and top["size"] == [480, 200] and top["ref"] == "zorbex.png"
    assert [(w["text"], w["matched"]) for w in top["ocr"]] == [("ZORBEX", True)]
    assert all(0 <= v <= 1 for v in top["ocr"][0]["box"]) and len(top["ocr"][0]["box"]) == 8
    assert found["entities"] == ["ZORBEX"]

    like = results(port, {"like": str(root / "klaxo.png"), "k": 3})
    assert like["hits"][0]["path"] == str(root / "klaxo.png") and like["hits"][0]["score"] == pytest.approx(1.0)
    status, _, error = get(port, "/api/results", "POST", json.dumps({"like": "/etc/passwd"}).encode())
    assert status == 403 and "inside the index folder" in json.loads(error)["error"]
    status, _, error = get(port, "/api/results", "POST", json.dumps({"like": "a.png", "text": "b"}).encode())
    assert status == 400 and "exactly one of" in json.loads(error)["error"]


def test_error_answers_carry_any_name():
    from hopid.serve.app import _error

    answer = _error(404, os.fsdecode(b"caf\xe9.png") + " is not an indexed image")  # a lone surrogate
    assert json.loads(answer.body)["error"] == "caf\udce9.png is not an indexed image"


def test_which_ocr_words_light_up():
    from hopid.scenetext.lexical import ocr_word_matches as word_matches

    assert word_matches("hands", ["hand"]) and word_matches("Harbour", ["harbourfront"])
    assert word_matches("coronavirusinfection", ["coronavirus"]) and word_matches("HarbourFr0nt", ["HarbourFront"])
    assert not word_matches("and", ["hand"]) and not word_matches("the", ["theatre"])
    assert not word_matches("Gate", ["63"])
    assert word_matches("the", ["the"])  # a stop-word lights up only when it was the word searched
    assert word_matches("DAYSINN", ["inn"]) and word_matches("Shop&Dine", ["dine"])


@pytest.fixture(scope="module")
def swappable(tmp_path_factory, tiny_encoder):
    """An index whose files the tests replace after indexing, and a picture outside it."""
    root = tmp_path_factory.mktemp("swap") / "photos"
    for name in ("keep.png", "link.png", "fifo.png", "huge.png", "big.png"):
        render_words(root / name, ["Swap"])
    build_index(root, tiny_encoder)
    outside = render_words(root.parent / "outside.png", ["Secret"])
    server = serve(root / ".hopid")
    yield root, server.server_address[1], outside
    server.shutdown()
    server.server_close()


def test_a_file_swapped_for_a_link_after_indexing_is_resolved_and_refused(swappable):
    root, port, outside = swappable
    link = root / "link.png"
    for target, status in ((outside, 403), (Path("/etc/passwd"), 403), (root / "keep.png", 200)):
        link.unlink()
        link.symlink_to(target)
        for route in ("/image", "/thumb"):
            assert get(port, f"{route}?path={quote(str(link))}")[0] == status, (target, route)
    link.unlink()
    link.symlink_to(link)  # a loop
    assert get(port, f"/image?path={quote(str(link))}")[0] == 404
    fifo = root / "fifo.png"
    fifo.unlink()
    os.mkfifo(fifo)  # opening it for reading would wait for a writer: refused, not hung
    assert get(port, f"/image?path={quote(str(fifo))}")[0] == 404 and get(port, "/health")[0] == 200


def open_descriptors_of(path: Path) -> list[str]:
    """This process's file descriptors open on ``path`` (the test servers run in this process)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                found.append(fd)
        except OSError:  # closed meanwhile, or the listing's own descriptor
            pass
    return found


def test_an_original_is_streamed_in_chunks_and_its_file_closed(swappable):
    import socket
    import time

    from hopid.gallery.files import CHUNK, GalleryFiles

    root, port, _ = swappable
    big = root / "big.png"
    data = np.random.default_rng(0).bytes(3 * CHUNK + 5)  # /image sends bytes as they are: no decoding
    big.write_bytes(data)
    opened = GalleryFiles(root, ["big.png"], {"big.png": 0}, root / ".hopid", root.resolve()).image("big.png")
    try:
        assert [len(chunk) for chunk in opened.chunks()] == [CHUNK, CHUNK, CHUNK, 5]
    finally:
        opened.close()

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", f"/image?path={quote(str(big))}")
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Length") == str(len(data))
    assert response.read() == data
    connection.close()
    for _ in range(3):  # clients that hang up part way through the file
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /image?path=big.png HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + 20
    while open_descriptors_of(big) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_descriptors_of(big) == []  # every sending closed its file
    assert get(port, "/health")[0] == 200


@pytest.mark.slow
def test_a_huge_thumbnail_leaves_the_warnings_filters_alone(swappable):
    import warnings

    root, port, _ = swappable
    Image.new("L", (14_000, 7_000), 200).save(root / "huge.png", compress_level=1)  # 98 megapixels
    before = list(warnings.filters)
    paths = [root / "huge.png", root / "keep.png"] * 3
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda p: get(port, f"/thumb?path={quote(str(p))}"), paths))
    assert [status for status, _, _ in answers] == [200] * 6
    assert max(Image.open(io.BytesIO(answers[0][2])).size) == 320
    assert warnings.filters == before  # no request left a process-wide filter behind
    assert get(port, f"/image?path={quote(str(root / 'huge.png'))}")[0] == 200


def test_a_copied_or_forged_index_serves_no_files(served, tmp_path):
    from hopid.errors import HopidError
    from hopid.gallery.files import trusted_images_folder

    root, _ = served
    forged = tmp_path / "elsewhere" / ".hopid"
    shutil.copytree(root / ".hopid", forged, ignore=shutil.ignore_patterns("thumbs"))
    victim = tmp_path / "victim"  # what the forged manifest points at: a secret named like an indexed image
    victim.mkdir()
    (victim / "zorbex.png").write_text("a secret")
    manifest = json.loads((forged / "manifest.json").read_text())
    (forged / "manifest.json").write_text(json.dumps(manifest | {"images_dir": str(victim)}))
    server = serve(forged)
    try:
        port = server.server_address[1]
        for path in (victim / "zorbex.png", "zorbex.png"):
            status, _, data = get(port, f"/image?path={quote(str(path))}")
            assert status == 403 and b"--images" in data, data
            assert get(port, f"/thumb?path={quote(str(path))}")[0] == 403
        status, _, data = get(port, "/search", "POST", json.dumps({"text": "zorbex"}).encode())
        assert status == 200 and json.loads(data)[0]["path"] == str(victim / "zorbex.png")  # searches still work
    finally:
        server.shutdown()
        server.server_close()
    assert trusted_images_folder(forged, Path("/")) is None  # images_dir "/", items naming etc/shadow
    assert trusted_images_folder(root / ".hopid", root) == root.resolve()
    assert trusted_images_folder(forged, victim, victim) == victim.resolve()  # named by the person serving
    with pytest.raises(HopidError, match="not the folder this index was built from"):
        trusted_images_folder(forged, victim, root)


# -- in a real browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def scenes_index(tmp_path_factory, tiny_encoder):
    """An index of ../shared/realworld/scenes (kept outside it), or of rendered words without it."""
    from conftest import realworld_dir

    found = realworld_dir()
    if found is not None and (found / "scenes").is_dir():
        images = found / "scenes"
    else:
        images = tmp_path_factory.mktemp("rendered")
        for name, words in WORDS.items():
            render_words(images / name, words)
    index_dir = tmp_path_factory.mktemp("index")
    build_index(images, tiny_encoder, index_dir=index_dir)
    server = serve(index_dir, images)  # the index lies elsewhere: its images folder is named
    yield index_dir, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def shown(driver, count: int | None = None) -> list:
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d):
        status = d.find_element("id", "status").text
        items = d.find_elements("css selector", ".result")
        done = status.split(" ")[0].isdigit() and (count is None or len(items) == count)
        return items if done else False

    return WebDriverWait(driver, 60).until(ready)


def cli_paths(index_dir: Path, query: str, k: int) -> list[str]:
    answer = CliRunner().invoke(app, ["query", query, "--index", str(index_dir), "-k", str(k), "--json"])
    assert answer.exit_code == 0, answer.output
    return [hit["path"] for hit in json.loads(answer.stdout)]


def non_blank(png: Path) -> bool:
    pixels = np.asarray(Image.open(png).convert("L"), dtype=np.float32)
    return pixels.std() > 10 and len(np.unique(pixels)) > 50


def test_a_typed_query_shows_the_cli_order_with_details(browser, scenes_index, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    index_dir, base = scenes_index
    browser.get(base + "/")
    box = browser.find_element(By.ID, "q")
    box.send_keys("hand washing poster", Keys.ENTER)
    items = shown(browser)
    assert "q=hand+washing+poster" in browser.current_url  # the search is in the URL
    k = int(browser.find_element(By.ID, "k").get_attribute("value"))
    expected = cli_paths(index_dir, "hand washing poster", k)
    assert [item.get_attribute("data-path") for item in items] == expected
    scores = [float(item.get_attribute("data-score")) for item in items]
    assert scores == sorted(scores, reverse=True)
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    )
    alts = [img.get_attribute("alt") for img in browser.find_elements(By.CSS_SELECTOR, ".result img")]
    assert all(alt.startswith(("OCR words: ", "no scene text")) for alt in alts) and any("OCR words" in a for a in alts)
    screenshot = tmp_path / "results.png"
    browser.save_screenshot(str(screenshot))
    assert non_blank(screenshot)

    items[0].send_keys(Keys.ENTER)  # keyboard: Enter on a focused result opens its details
    dialog = browser.find_element(By.ID, "detail")
    WebDriverWait(browser, 30).until(lambda d: dialog.get_attribute("open") is not None)
    assert browser.find_element(By.ID, "detail-title").text == expected[0]
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("const i = document.querySelector('#detail-figure img'); return i.naturalWidth > 0")
    )
    words = [w.text for w in browser.find_elements(By.CSS_SELECTOR, "#detail-words li")]
    assert words
    detail = tmp_path / "detail.png"
    browser.save_screenshot(str(detail))
    assert non_blank(detail)
    keep_screenshots(screenshot, detail)
    dialog.send_keys(Keys.ESCAPE)
    WebDriverWait(browser, 30).until(lambda d: dialog.get_attribute("open") is None)


def test_a_shared_url_reloads_the_search_and_more_like_this(browser, scenes_index):
    from selenium.webdriver.common.by import By

    index_dir, base = scenes_index
    browser.get(base + "/?" + urlencode({"q": "platform to HarbourFront", "k": 10}))
    items = shown(browser)
    assert [item.get_attribute("data-path") for item in items] == cli_paths(index_dir, "platform to HarbourFront", 10)
    first = items[0].get_attribute("data-path")
    browser.execute_script("arguments[0].focus()", items[0])
    items[0].send_keys("m")  # more like this, from the keyboard
    like = shown(browser, None)
    assert "like=" in browser.current_url and like[0].get_attribute("data-path") == first
    browser.back()
    again = shown(browser)
    assert [item.get_attribute("data-path") for item in again] == cli_paths(index_dir, "platform to HarbourFront", 10)
    assert browser.find_element(By.ID, "q").get_attribute("value") == "platform to HarbourFront"


def keep_screenshots(*shots: Path) -> None:
    """Copy the screenshots to $HOPID_SCREENSHOTS (how docs/gallery.md's pictures are made)."""
    target = os.environ.get("HOPID_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in shots:  # 256 colours: a third of the size, the same picture to the eye
            Image.open(shot).convert("RGB").quantize(256).save(Path(target) / f"gallery-{shot.name}", optimize=True)


def test_hopid_serve_prints_where_the_gallery_is(served):
    import re
    import signal
    import socket
    import subprocess
    import sys

    root, _ = served
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "hopid"), "serve", "--index", str(root / ".hopid"), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stderr.readline()
        found = re.search(r"gallery at http://127\.0\.0\.1:(\d+)/", line)
        assert found, line
        port = int(found.group(1))
        status, kind, page = get(port, "/")
        assert status == 200 and b'id="results"' in page
        for request in (b"garbage\r\n\r\n", b"GET /image?path=zorbex.png HTTP/1.1\r\nHost: localhost\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port)) as sock:  # a bad request; a client that hangs up
                sock.sendall(request)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    assert process.stderr.read().splitlines() == ["stopped"]  # no line per request, no traceback


@pytest.mark.slow
def test_a_name_that_is_not_utf8_shows_its_pictures_and_more_like_it(browser, tmp_path, tiny_encoder):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from hopid.data.scan import stored_name

    root = tmp_path / "photos"
    odd = os.fsdecode(b"caf\xe9-zorbex.png")  # Latin-1: not UTF-8
    render_words(root / odd, ["ZORBEX"])
    render_words(root / "klaxo.png", ["Klaxo", "Bakery"])
    build_index(root, tiny_encoder)
    server = serve(root / ".hopid")
    loaded = "return [...document.images].every(i => i.complete && i.naturalWidth > 0)"
    try:
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/?q=zorbex&k=2")
        items = shown(browser, 2)
        WebDriverWait(browser, 30).until(lambda d: d.execute_script(loaded))  # both thumbnails, the odd one too
        refs = [item.get_attribute("data-ref") for item in items]
        assert sorted(refs) == sorted([stored_name(odd), "klaxo.png"])
        items[refs.index(stored_name(odd))].click()
        assert browser.find_element(By.ID, "detail-title").text == f"{root}/caf\\xe9-zorbex.png"
        WebDriverWait(browser, 30).until(lambda d: d.execute_script(loaded))  # the original in the details
        browser.find_element(By.ID, "detail-like").click()
        like = shown(browser, 2)
        assert "like=" in browser.current_url and like[0].get_attribute("data-ref") == stored_name(odd)
        assert "images like caf\\xe9-zorbex.png" in browser.find_element(By.ID, "status").text
    finally:
        server.shutdown()
        server.server_close()
