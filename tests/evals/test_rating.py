"""Blind pairwise rating: pairs, the page, tampered requests, agreement and win rates."""

import http.client
import json
import os
import random
import re
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from emotion_director.evals.datasets import load_eval_dataset
from emotion_director.evals.rating import (
    RatingError,
    build_pairs,
    cohen_kappa,
    fleiss_kappa,
    rating_sections,
    read_ratings,
    serve_ratings,
    summarise_ratings,
)
from tests.evals.helpers import run_test_eval

SYSTEMS = ["identity", "template", "mc_agent"]


class FixedMetrics:
    def score_rewrite(self, prompt, rewrite, emotion):
        return {"minilm_prob": 0.25 if rewrite == prompt else 0.5, "subject_similarity": 1.0}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One finished eval run (3 cases, 3 systems) for the module; tests rate copies of it."""
    folder = tmp_path_factory.mktemp("rating") / "run"
    return run_test_eval(SYSTEMS, load_eval_dataset("builtin:shortcut")[:3], folder, FixedMetrics())


@pytest.fixture
def run_dir(finished_run, tmp_path):
    """This test's own copy of the finished run (votes, images and edits stay in it)."""
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


@pytest.fixture
def server(run_dir):
    server = serve_ratings(run_dir, port=0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url(server, path=""):
    host, port = server.server_address[:2]
    return f"http://{host}:{port}{path}"


def post(server, body: bytes, headers=None, path="/rate"):
    request = urllib.request.Request(
        url(server, path), data=body, method="POST", headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def raw(server, method, path, body=None, headers=None):
    """A request with exactly these headers (``Host`` defaults to the server's own; ``None``
    leaves a header out): (status, headers, body)."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for key, value in {"Host": f"127.0.0.1:{port}", **(headers or {})}.items():
            if value is not None:
                connection.putheader(key, value)
        if body is not None:
            connection.putheader("Content-Type", "application/x-www-form-urlencoded")
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def page_fields(server, rater="ann"):
    """The pair key and session token the page embeds in its vote form."""
    with urllib.request.urlopen(url(server, f"/?rater={rater}")) as response:
        page = response.read().decode()
    return (
        page.split("name='pair' value='")[1].split("'")[0],
        page.split("name='token' value='")[1].split("'")[0],
    )


def test_every_pair_of_systems_on_every_case_is_offered(run_dir):
    pairs = build_pairs(run_dir)
    assert len(pairs) == 3 * 3  # 3 cases x C(3, 2)
    assert len({p.pair_id for p in pairs}) == 9
    assert all(p.system_a < p.system_b for p in pairs)
    assert len(build_pairs(run_dir, ["identity", "template"])) == 3


def test_bad_run_folders_and_settings_are_clear_errors(tmp_path, run_dir):
    with pytest.raises(RatingError, match="not an eval run folder"):
        build_pairs(tmp_path / "missing")
    with pytest.raises(RatingError, match="single_llm not in"):
        build_pairs(run_dir, ["identity", "single_llm"])
    with pytest.raises(RatingError, match="nothing to rate"):
        build_pairs(run_dir, ["identity"])
    with pytest.raises(RatingError, match="loopback only"):
        serve_ratings(run_dir, host="0.0.0.0", port=0)


def test_page_hides_system_names_and_a_choice_is_recorded_with_its_winner(server, run_dir):
    with urllib.request.urlopen(url(server, "/?rater=ann")) as response:
        page = response.read().decode()
    for name in SYSTEMS:
        assert name not in page
    pair_key = page.split("name='pair' value='")[1].split("'")[0]
    token = page.split("name='token' value='")[1].split("'")[0]
    left_text = page.split("id='left'")[1].split("class='text'>")[1].split("</p>")[0]
    status, _ = post(server, f"rater=ann&pair={pair_key}&choice=left&token={token}".encode())
    assert status == 200  # urllib follows the 303 to the next pair
    (record,) = read_ratings(run_dir)
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    shown = {
        r["system"]
        for r in rows
        if r["case_id"] == record["case_id"] and r["rewrite"].replace("'", "&#x27;") == left_text
    }
    assert record["winner"] == record["left"] and record["left"] in shown
    assert record["rater"] == "ann" and record["choice"] == "left"
    with urllib.request.urlopen(url(server, "/?rater=ann")) as response:
        assert "1 of 9 rated" in response.read().decode()


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"rater=ann&pair=000000000000&choice=left&token=TOKEN", {}, 400, "unknown pair id"),
        (
            b"rater=ann&pair=PAIR&choice=both&token=TOKEN",
            {},
            400,
            "choice must be one of left, right, tie",
        ),
        (
            b"rater=ann&pair=PAIR&choice=left&system=mc_agent&token=TOKEN",
            {},
            400,
            "exactly one rater, pair and choice",
        ),
        (
            b"rater=ann&rater=bob&pair=PAIR&choice=left&token=TOKEN",
            {},
            400,
            "exactly one rater, pair and choice",
        ),
        (b"rater=<script>&pair=PAIR&choice=left&token=TOKEN", {}, 400, "rater name must be"),
        (b"\xff\xfe", {}, 400, "expected a form body"),
        (b"x" * 5000, {}, 413, "over 4096 bytes"),
    ],
)
def test_tampered_posts_are_rejected_and_nothing_is_recorded(
    server, run_dir, body, headers, status, message
):
    pair_key, token = page_fields(server)
    body = body.replace(b"PAIR", pair_key.encode()).replace(b"TOKEN", token.encode())
    code, text = post(server, body, headers)
    assert code == status and message in text.replace("&#x27;", "'")
    assert read_ratings(run_dir) == []


def test_unknown_paths_and_images_are_404(server):
    for path in ("/admin", "/image/000000000000/left/0?rater=ann", "/image/x/up/0?rater=ann"):
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(url(server, path))
        assert exc.value.code == 404
    assert post(server, b"rater=a&pair=b&choice=left", path="/other")[0] == 404


def test_cohen_kappa_matches_the_textbook_example_and_is_0_for_independent_raters():
    # 50 items: both yes 20, A yes / B no 5, A no / B yes 10, both no 15 -> kappa 0.4
    a = ["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    rng = random.Random(0)
    x = [rng.choice("ab") for _ in range(4000)]
    y = [rng.choice("ab") for _ in range(4000)]
    assert abs(cohen_kappa(x, y)) < 0.05  # control: chance agreement scores about 0


def test_fleiss_kappa_matches_the_textbook_example():
    # Fleiss (1971) as tabulated on Wikipedia: 10 items, 14 raters, 5 categories -> 0.210
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    counts = [{str(j): n for j, n in enumerate(row) if n} for row in table]
    assert fleiss_kappa(counts) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa([{"a": 3}, {"b": 3}, {"a": 3}]) == pytest.approx(1.0)
    assert fleiss_kappa([{"a": 3}]) != fleiss_kappa([{"a": 3}])  # one category only: nan


def _record(rater, pair, a, b, winner):
    return {
        "rater": rater,
        "pair_id": pair,
        "system_a": a,
        "system_b": b,
        "winner": winner,
        "case_id": pair,
    }


def test_win_rates_count_ties_as_half_and_the_latest_choice_per_rater():
    records = [
        _record("ann", "p1", "x", "y", "x"),
        _record("ann", "p2", "x", "y", "x"),
        _record("ann", "p3", "x", "y", "tie"),
        _record("ann", "p4", "x", "y", "y"),
        _record("ann", "p4", "x", "y", "x"),  # ann changed her mind on p4: this one counts
        _record("bob", "p1", "x", "y", "x"),
        _record("bob", "p2", "x", "y", "y"),
    ]
    s = summarise_ratings(records)
    assert s["ratings"] == 6
    assert s["win_rates"]["x"]["win_rate"][0] == pytest.approx((1 + 1 + 0.5 + 1 + 1 + 0) / 6)
    assert s["win_rates"]["y"]["comparisons"] == 6
    assert s["head_to_head"][("x", "y")] == {"a": 4, "b": 1, "tie": 1}
    agreement = s["agreement"]
    assert agreement["items_rated_by_2_or_more"] == 2
    assert agreement["pairwise_agreement"] == pytest.approx(0.5)


def test_report_section_puts_human_win_rates_beside_automatic_metrics(run_dir):
    pairs = build_pairs(run_dir, ["identity", "template"])
    with (run_dir / "ratings.jsonl").open("w") as handle:
        for rater in ("ann", "bob"):
            for p in pairs:
                handle.write(
                    json.dumps(_record(rater, p.pair_id, p.system_a, p.system_b, "template")) + "\n"
                )
        handle.write('{"rater": "cut mid-wri')
    md, page = rating_sections(run_dir)
    assert "## Human ratings" in md and "minilm_prob" in md
    template_row = next(line for line in md.splitlines() if line.startswith("| template |"))
    assert template_row.startswith("| template | 1.000 [1.000, 1.000] | 6 | 0.500")
    assert "raw agreement 1.000" in md and "<h2>Human ratings</h2>" in page
    assert rating_sections(Path(run_dir).parent) is None


def text_of(driver, element_id):
    """The text of one element in one script call ("" while absent or while the page unloads).

    Finding an element and then reading it are two round trips, and a page that navigates
    between them fails the second with "node does not belong to the document", which is no
    stale-reference error a wait would ignore.
    """
    from selenium.common.exceptions import WebDriverException

    try:
        text = driver.execute_script(
            "var e = document.getElementById(arguments[0]); return e ? e.textContent : '';",
            element_id,
        )
    except WebDriverException:
        return ""
    return (text or "").strip()


@pytest.mark.slow
def test_headless_browser_clicks_through_pairs_and_the_file_records_them(server, run_dir):
    import os
    import shutil

    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium and chromium-driver (.ci/run)")
        pytest.skip(
            "chromium / chromedriver not installed (apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    browser = webdriver.Chrome(
        service=webdriver.ChromeService(executable_path=driver_path), options=options
    )
    try:
        browser.get(url(server, "/"))
        browser.find_element(By.ID, "rater").send_keys("carol")
        browser.find_element(By.ID, "start").click()
        clicks = ["choose-left", "choose-right", "choose-tie", "choose-left"]
        shown = []

        def progress_says(done):  # the click submits a form: wait for the next page
            return WebDriverWait(
                browser,
                20,
                ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
            ).until(lambda d: text_of(d, "progress").startswith(f"{done} of "))

        for done, button in enumerate(clicks):
            progress_says(done)
            # the stylesheet loads under the page's Content-Security-Policy
            assert (
                browser.find_element(By.CSS_SELECTOR, ".pair").value_of_css_property("display")
                == "flex"
            )
            subject = browser.find_element(By.ID, "subject").text
            texts = [
                browser.find_element(By.CSS_SELECTOR, f"#{side} .text").text
                for side in ("left", "right")
            ]
            shown.append((subject, texts))
            assert not any(name in browser.page_source for name in SYSTEMS)
            browser.find_element(By.ID, button).click()
        progress_says(4)
        assert "4 of 9 rated, as carol" in browser.find_element(By.ID, "progress").text
    finally:
        browser.quit()
    records = read_ratings(run_dir)
    assert [r["choice"] for r in records] == ["left", "right", "tie", "left"]
    assert all(r["rater"] == "carol" for r in records) and len({r["pair_id"] for r in records}) == 4
    rows = {
        (r["system"], r["case_id"]): r["rewrite"]
        for r in (json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines())
    }
    for record, (_, texts) in zip(records, shown):
        assert rows[(record["left"], record["case_id"])] == texts[0]
        assert rows[(record["right"], record["case_id"])] == texts[1]
        expected = {"left": record["left"], "right": record["right"], "tie": "tie"}
        assert record["winner"] == expected[record["choice"]]


def _add_images(run_dir, systems):
    """Images as `eval images` leaves them: PNGs under images/<system>/ and a records file."""
    from PIL import Image

    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    folder = run_dir / "images"
    lines = []
    for row in rows:
        if row["system"] not in systems:
            continue
        (folder / row["system"]).mkdir(parents=True, exist_ok=True)
        for index in range(3):
            path = folder / row["system"] / f"{row['case_id']}-{index}.png"
            colour = (40 * SYSTEMS.index(row["system"]), 10 * index, 200)
            Image.new("RGB", (8, 8), colour).save(path)
            lines.append(
                json.dumps(
                    {
                        "system": row["system"],
                        "case_id": row["case_id"],
                        "index": index,
                        "path": str(path.relative_to(run_dir)),
                        "subject": row["prompt"],
                        "emotion": row["emotion"],
                        "clip_score": 20.0,
                        "pipeline": "text_to_image",
                    }
                )
            )
    (folder / "records-rank0.jsonl").write_text("\n".join(lines) + "\n")


def test_page_shows_two_images_per_side_without_system_names_in_urls(run_dir):
    _add_images(run_dir, ["identity", "template"])
    server = serve_ratings(run_dir, port=0, systems=["identity", "template"])
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        with urllib.request.urlopen(url(server, "/?rater=dan")) as response:
            page = response.read().decode()
        sources = _image_sources(page)
        assert len(sources) == 4 and all(s.startswith("/image/") for s in sources)
        assert not any(name in page for name in SYSTEMS)
        pair = server.session.pair_for(sources[0].split("/")[2])
        (left_system, _, left_images), _ = server.session.sides(pair, "dan")
        with urllib.request.urlopen(url(server, sources[0])) as response:
            assert response.headers["Content-Type"] == "image/png"
            assert response.read() == (run_dir / left_images[0]).read_bytes()
        assert f"images/{left_system}/" in left_images[0]
        with pytest.raises(urllib.error.HTTPError) as exc:  # only two images per side
            urllib.request.urlopen(url(server, sources[0].replace("/0?", "/2?")))
        assert exc.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_rate_command_bad_inputs_are_one_line_and_exit_2(run_dir, tmp_path):
    from typer.testing import CliRunner

    from emotion_director.cli import app

    cli = CliRunner()
    missing = cli.invoke(app, ["eval", "rate", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not an eval run folder" in missing.stderr
    one = cli.invoke(app, ["eval", "rate", str(run_dir), "--systems", "identity"])
    assert one.exit_code == 2 and "nothing to rate" in one.stderr
    busy = serve_ratings(run_dir, port=0)
    try:
        taken = cli.invoke(
            app, ["eval", "rate", str(run_dir), "--port", str(busy.server_address[1])]
        )
        assert taken.exit_code == 2 and "pass another --port" in taken.stderr
    finally:
        busy.server_close()
    assert "Traceback" not in missing.output + one.output + taken.output


# ---------------------------------------------------------------- hostile requests and records
PNG_SECRET = b"\x89PNG\r\n\x1a\n" + b"TOP SECRET, outside the run"


def _start(run_dir, systems=None):
    server = serve_ratings(run_dir, port=0, systems=systems)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server


def _stop(server):
    server.shutdown()
    server.server_close()


def _page_pair_key(server, rater="ann"):
    _, _, page = raw(server, "GET", f"/?rater={rater}")
    return page.decode().split("name='pair' value='")[1].split("'")[0]


def _point_images_at(run_dir, system, path):
    """Rewrite the image records of one system so that every one of them names ``path``."""
    records = run_dir / "images" / "records-rank0.jsonl"
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    for row in rows:
        if row["system"] == system:
            row["path"] = path
    records.write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.mark.parametrize(
    "kind", ["etc_passwd", "absolute", "traversal", "deep_traversal", "symlink", "not_a_string"]
)
def test_image_records_leading_out_of_the_run_are_never_served(run_dir, tmp_path, capfd, kind):
    _add_images(run_dir, ["identity", "template"])
    secret = tmp_path / "secret.png"  # looks like a PNG: only the folder check keeps it out
    secret.write_bytes(PNG_SECRET)
    (run_dir / "images" / "identity" / "link.png").symlink_to(secret)
    target = {
        "etc_passwd": "/etc/passwd",
        "absolute": str(secret),
        "traversal": "../secret.png",
        "deep_traversal": "images/identity/../../../secret.png",
        "symlink": "images/identity/link.png",
        "not_a_string": 7,
    }[kind]
    _point_images_at(run_dir, "identity", target)
    forbidden = [PNG_SECRET] + (
        [Path("/etc/passwd").read_bytes()[:64]] if Path("/etc/passwd").is_file() else []
    )
    template_pngs = {p.read_bytes() for p in (run_dir / "images" / "template").glob("*.png")}
    server = _start(run_dir, ["identity", "template"])
    try:
        _, _, page = raw(server, "GET", "/?rater=dan")
        sources = _image_sources(page.decode())
        for source in sources:  # what the page itself shows
            status, _, body = raw(server, "GET", source)
            assert not any(secret_bytes in body for secret_bytes in forbidden)
            assert status == 200 and body in template_pngs
        assert len(sources) == 2  # only the template side has images inside the run
        served = []
        for key in server.session.keys:  # and every image URL of every pair
            for side in ("left", "right"):
                for index in range(3):
                    status, headers, body = raw(
                        server, "GET", f"/image/{key}/{side}/{index}?rater=dan"
                    )
                    assert not any(secret_bytes in body for secret_bytes in forbidden)
                    assert status in (200, 404)
                    if status == 200:
                        assert headers["Content-Type"] == "image/png" and body in template_pngs
                    served.append(status)
        assert served.count(200) == 2 * len(server.session.keys)  # template's two per pair
    finally:
        _stop(server)
    assert "Traceback" not in capfd.readouterr().err


def test_an_image_file_swapped_after_the_page_was_built_is_checked_on_every_request(
    run_dir, tmp_path, capfd
):
    _add_images(run_dir, ["identity", "template"])
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG_SECRET)
    server = _start(run_dir, ["identity", "template"])
    try:
        _, _, page = raw(server, "GET", "/?rater=dan")
        source = _image_sources(page.decode())[0]
        pngs = sorted((run_dir / "images").rglob("*.png"))
        kept = {png: png.rename(png.with_name(f"{png.stem}-kept.png")) for png in pngs}

        def swap_every_image(make):  # whichever file backs `source`, it is swapped too
            for png in pngs:
                if png.is_dir() and not png.is_symlink():
                    png.rmdir()
                elif png.is_symlink() or png.exists():
                    png.unlink()
                make(png)
            return raw(server, "GET", source)

        # a symlink that stays inside the run is fine
        status, _, body = swap_every_image(lambda png: png.symlink_to(kept[png]))
        assert status == 200 and body in {k.read_bytes() for k in kept.values()}
        # one that leads out of it is not
        status, _, body = swap_every_image(lambda png: png.symlink_to(secret))
        assert status == 404 and b"TOP SECRET" not in body
        # neither is a file that is no image, whatever its name
        status, _, body = swap_every_image(lambda png: png.write_text("root,hunter2\n"))
        assert status == 404 and b"hunter2" not in body
        # nor something that is no regular file (a FIFO must not hang the server either)
        assert swap_every_image(os.mkfifo)[0] == 404
        assert swap_every_image(lambda png: png.mkdir())[0] == 404
    finally:
        _stop(server)
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:PORT",
        "127.0.0.1:1",
        "127.0.0.1",
        "localhost",
        "127.0.0.1:PORT.evil.example",
        "0.0.0.0:PORT",
        "127.0.0.2:PORT",
        None,
    ],
)
def test_requests_for_another_host_are_refused_so_dns_rebinding_reads_and_votes_nothing(
    server, run_dir, host
):
    port = server.server_address[1]
    forged = {"Host": host.replace("PORT", str(port)) if host else None}
    status, _, body = raw(server, "GET", "/?rater=ann", headers=forged)
    assert status == 403 and "Host header" in body.decode()
    assert "name='pair'" not in body.decode()
    pair_key, token = page_fields(server)
    vote = f"rater=ann&pair={pair_key}&choice=left&token={token}".encode()
    status, _, body = raw(server, "POST", "/rate", vote, headers=forged)
    assert status == 403 and "Host header" in body.decode()
    assert read_ratings(run_dir) == []


@pytest.mark.parametrize(
    "host", ["127.0.0.1:PORT", "localhost:PORT", "[::1]:PORT", "LocalHost:PORT"]
)
def test_the_loopback_names_of_the_bound_port_are_served(server, host):
    port = server.server_address[1]
    status, _, body = raw(
        server, "GET", "/?rater=ann", headers={"Host": host.replace("PORT", str(port))}
    )
    assert status == 200 and "name='pair'" in body.decode()


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "null",
        "http://localhost:PORT",
        "https://127.0.0.1:PORT",
        "http://127.0.0.1:PORT.evil.example",
    ],
)
def test_votes_and_reads_from_another_origin_are_refused(server, run_dir, origin):
    port = server.server_address[1]
    forged = {"Origin": origin.replace("PORT", str(port))}
    status, _, body = raw(server, "GET", "/?rater=ann", headers=forged)
    assert status == 403 and "name='pair'" not in body.decode()
    pair_key, token = page_fields(server)
    vote = f"rater=ann&pair={pair_key}&choice=left&token={token}".encode()
    status, _, body = raw(server, "POST", "/rate", vote, headers=forged)
    assert status == 403 and "Origin header" in body.decode()
    assert read_ratings(run_dir) == []
    # the page's own origin (as a browser sends it with the form) is accepted
    status, headers, _ = raw(
        server, "POST", "/rate", vote, headers={"Origin": f"http://127.0.0.1:{port}"}
    )
    assert status == 303 and headers["Location"] == "/?rater=ann"
    assert len(read_ratings(run_dir)) == 1


def test_a_vote_without_this_sessions_token_is_refused(server, run_dir):
    pair_key = _page_pair_key(server)
    status, _, body = raw(
        server, "POST", "/rate", f"rater=ann&pair={pair_key}&choice=left".encode()
    )
    assert status == 403 and "token" in body.decode()
    assert read_ratings(run_dir) == []
    token = page_fields(server)[1]
    other = _start(run_dir)  # another session on the same run has another token
    try:
        other_token = page_fields(other)[1]
    finally:
        _stop(other)
    assert other_token != token
    for tail in (
        "&token=",
        "&token=wrong",
        f"&token={other_token}",
        f"&token={token[:-1]}",
        f"&token={token}&token={token}",
        "&token=%C3%A9",
    ):
        status, _, body = raw(
            server, "POST", "/rate", f"rater=ann&pair={pair_key}&choice=left{tail}".encode()
        )
        assert status == 403 and "token" in body.decode(), tail
    assert read_ratings(run_dir) == []
    status, _, _ = raw(
        server, "POST", "/rate", f"rater=ann&pair={pair_key}&choice=left&token={token}".encode()
    )
    assert status == 303 and len(read_ratings(run_dir)) == 1


def _image_sources(page: str) -> list[str]:
    return re.findall(r"<img [^>]*src='([^']+)'", page)


def _assert_protected(headers):
    assert headers["X-Frame-Options"] == "DENY"
    policy = headers["Content-Security-Policy"] or ""
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_every_response_forbids_framing_and_sniffing_and_the_page_needs_no_inline_code(run_dir):
    _add_images(run_dir, ["identity", "template"])
    server = _start(run_dir, ["identity", "template"])
    try:
        _, _, page = raw(server, "GET", "/?rater=ann")
        source = _image_sources(page.decode())[0]
        responses = [
            raw(server, "GET", path)
            for path in ("/", "/?rater=ann", source, "/admin", "/?rater=<x>")
        ]
        responses += [raw(server, "HEAD", "/")]  # http.server's own 501 error page
        assert [r[0] for r in responses] == [200, 200, 200, 404, 400, 501]
        for _, headers, _ in responses:
            _assert_protected(headers)
        for marker in ("<style", " style=", " onclick", "javascript:"):
            assert marker not in page.decode()  # all of these would be blocked by the policy
        # the one script is the keyboard shortcuts' file from this server, none inline
        assert re.findall(r"<script[^>]*>", page.decode()) == ["<script src='/keys.js' defer>"]
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        status, headers, _ = raw(server, "GET", "/style.css")
        assert status == 200 and headers["Content-Type"].startswith("text/css")
        pair_key, token = page_fields(server)
        responses = [
            raw(server, "GET", "/", headers={"Host": "evil.example"}),
            raw(server, "POST", "/rate", b"rater=ann&pair=x&choice=left"),
            raw(
                server,
                "POST",
                "/rate",
                f"rater=ann&pair={pair_key}&choice=tie&token={token}".encode(),
            ),
        ]
        assert [r[0] for r in responses] == [403, 403, 303]
        for _, headers, _ in responses:
            _assert_protected(headers)
    finally:
        _stop(server)


def test_pair_keys_are_random_per_session_and_votes_record_the_stable_pair_id(run_dir):
    stable = {p.pair_id for p in build_pairs(run_dir)}
    first, second = _start(run_dir), _start(run_dir)
    try:
        # the same rater's first pair has another key in another session, and no stable id
        # (a hash of case and system names anyone could compute) is ever shown
        pair_key = _page_pair_key(first)
        assert pair_key != _page_pair_key(second) and pair_key not in stable
        keys_first, keys_second = set(first.session.keys), set(second.session.keys)
        assert len(keys_first) == len(keys_second) == len(stable) == 9
        assert not keys_first & keys_second and not keys_first & stable
        assert all(len(key) >= 22 for key in keys_first)  # 128 random bits each
        assert first.session.token != second.session.token and len(first.session.token) >= 43
        token = page_fields(first)[1]
        guessed = first.session.keys[pair_key]  # the stable id names no pair on the page
        status, _, body = raw(
            first, "POST", "/rate", f"rater=ann&pair={guessed}&choice=left&token={token}".encode()
        )
        assert status == 400 and "unknown pair id" in body.decode()
        status, _, _ = raw(first, "GET", f"/image/{guessed}/left/0?rater=ann")
        assert status == 404
        status, _, _ = raw(
            first, "POST", "/rate", f"rater=ann&pair={pair_key}&choice=left&token={token}".encode()
        )
        assert status == 303
    finally:
        _stop(first)
        _stop(second)
    (record,) = read_ratings(run_dir)
    assert record["pair_id"] == guessed and record["pair_id"] in stable


def test_skip_and_undo_are_appended_and_the_summary_ignores_skips(server, run_dir):
    total = len(server.session.pairs)
    pair_key, token = page_fields(server)
    assert post(server, f"rater=ann&pair={pair_key}&choice=skip&token={token}".encode())[0] == 200
    pair_key, token = page_fields(server)
    assert post(server, f"rater=ann&pair={pair_key}&choice=left&token={token}".encode())[0] == 200
    assert [r["choice"] for r in read_ratings(run_dir)] == ["skip", "left"]
    with urllib.request.urlopen(url(server, "/?rater=ann")) as response:
        page = response.read().decode()
    assert f"2 of {total} rated" in page and f"<progress id='bar' value='2' max='{total}'>" in page
    assert summarise_ratings(read_ratings(run_dir))["ratings"] == 1  # the skip weighs nothing
    # undo withdraws the latest choice; the file keeps every line (append-only)
    assert post(server, f"rater=ann&token={token}".encode(), path="/undo")[0] == 200
    assert [r["choice"] for r in read_ratings(run_dir)] == ["skip"]
    lines = (run_dir / "ratings.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[-1])["undo"] == pair_key_of(server, lines[1])
    _, token = page_fields(server)
    assert page_fields(server)[0] == pair_key  # the undone pair is shown again
    # undo needs the token, and undoing with nothing left is harmless
    assert post(server, b"rater=ann", path="/undo")[0] == 403
    assert post(server, f"rater=bob&token={token}".encode(), path="/undo")[0] == 200
    assert post(server, f"rater=<x>&token={token}".encode(), path="/undo")[0] == 400
    assert post(server, f"rater=ann&token={token}&pair=1".encode(), path="/undo")[0] == 400


def pair_key_of(server, line):
    return json.loads(line)["pair_id"]


@pytest.mark.slow
def test_headless_browser_rates_with_the_keyboard_undoes_and_finishes(server, run_dir):
    import os
    import shutil

    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium and chromium-driver (.ci/run)")
        pytest.skip("chromium / chromedriver not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    browser = webdriver.Chrome(
        service=webdriver.ChromeService(executable_path=driver_path), options=options
    )
    total = len(server.session.pairs)
    wait = WebDriverWait(
        browser, 20, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
    )

    def progress_says(done):
        wait.until(lambda d: text_of(d, "progress").startswith(f"{done} of "))

    def press(key):
        browser.find_element(By.TAG_NAME, "body").send_keys(key)

    try:
        browser.get(url(server, "/?rater=erin"))
        progress_says(0)
        for done, key in enumerate(["a", Keys.ARROW_RIGHT, "t", "s"]):
            progress_says(done)
            press(key)
        progress_says(4)
        assert browser.find_element(By.ID, "bar").get_attribute("value") == "4"
        press("u")  # undo the skip
        progress_says(3)
        for done in range(3, total):
            progress_says(done)
            press("b")
        wait.until(lambda d: text_of(d, "done"))
        summary = browser.find_element(By.ID, "summary").text
        assert f"All {total} pairs rated" in browser.find_element(By.ID, "done").text
        assert "1 left" in summary and "0 skipped" in summary and "1 about the same" in summary
        press("u")  # undo works from the finish screen too
        progress_says(total - 1)
    finally:
        browser.quit()
    choices = [r["choice"] for r in read_ratings(run_dir)]
    assert choices == ["left", "right", "tie", *(["right"] * (total - 4))]


def test_a_negative_content_length_is_named_as_such(server):
    # hostile round 5: "-5" was answered 413 "request body over 4096 bytes"
    status, _, body = raw(server, "POST", "/rate", headers={"Content-Length": "-5"})
    assert status == 400 and b"size in bytes, got -5" in body


def test_a_rating_of_a_system_the_run_does_not_have_is_left_out_and_said(run_dir):
    # hostile round 5: a hand-edited line naming "<b>evil</b>" got a win rate of 1.000
    pairs = build_pairs(run_dir, ["identity", "template"])
    with (run_dir / "ratings.jsonl").open("w") as handle:
        p = pairs[0]
        handle.write(json.dumps(_record("ann", p.pair_id, p.system_a, p.system_b, "template")))
        handle.write("\n")
        evil = _record("ann", "forged", "<b>evil</b>", "identity", "<b>evil</b>")
        handle.write(json.dumps(evil) + "\n")
    md, page = rating_sections(run_dir)
    assert "evil" not in md and "evil" not in page
    assert "1 line(s) of ratings.jsonl name a system this run does not have" in md
