"""Blind pairwise rating: pairs, the page, tampered requests, agreement and win rates."""

import json
import random
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from emotion_director import Settings
from emotion_director.testing import TestChatModel
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
from emotion_director.evals.runner import run_eval

SYSTEMS = ["identity", "template", "mc_agent"]


class FixedMetrics:
    def score_rewrite(self, prompt, rewrite, emotion):
        return {"minilm_prob": 0.25 if rewrite == prompt else 0.5, "subject_similarity": 1.0}


@pytest.fixture
async def run_dir(tmp_path):
    cases = load_eval_dataset("builtin:shortcut")[:3]
    await run_eval(SYSTEMS, cases, tmp_path / "run", settings=Settings(backend="test"),
                   chat_model=TestChatModel(), metrics=FixedMetrics())
    return tmp_path / "run"


@pytest.fixture
def server(run_dir):
    server = serve_ratings(run_dir, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url(server, path=""):
    host, port = server.server_address[:2]
    return f"http://{host}:{port}{path}"


def post(server, body: bytes, headers=None, path="/rate"):
    request = urllib.request.Request(url(server, path), data=body, method="POST",
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


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
    left_text = page.split("id='left'")[1].split("class='text'>")[1].split("</p>")[0]
    status, _ = post(server, f"rater=ann&pair={pair_key}&choice=left".encode())
    assert status == 200  # urllib follows the 303 to the next pair
    (record,) = read_ratings(run_dir)
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    shown = {r["system"] for r in rows if r["case_id"] == record["case_id"]
             and r["rewrite"].replace("'", "&#x27;") == left_text}
    assert record["winner"] == record["left"] and record["left"] in shown
    assert record["rater"] == "ann" and record["choice"] == "left"
    with urllib.request.urlopen(url(server, "/?rater=ann")) as response:
        assert "1 of 9 rated" in response.read().decode()


@pytest.mark.parametrize(("body", "headers", "status", "message"), [
    (b"rater=ann&pair=000000000000&choice=left", {}, 400, "unknown pair id"),
    (b"rater=ann&pair=PAIR&choice=both", {}, 400, "choice must be one of left, right, tie"),
    (b"rater=ann&pair=PAIR&choice=left&system=mc_agent", {}, 400, "exactly one rater, pair and choice"),
    (b"rater=ann&rater=bob&pair=PAIR&choice=left", {}, 400, "exactly one rater, pair and choice"),
    (b"rater=<script>&pair=PAIR&choice=left", {}, 400, "rater name must be"),
    (b"\xff\xfe", {}, 400, "expected a form body"),
    (b"x" * 5000, {}, 413, "over 4096 bytes"),
])
def test_tampered_posts_are_rejected_and_nothing_is_recorded(server, run_dir, body, headers,
                                                             status, message):
    pair_key = build_pairs(run_dir)[0].pair_id
    code, text = post(server, body.replace(b"PAIR", pair_key.encode()), headers)
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
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
             [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
             [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    counts = [{str(j): n for j, n in enumerate(row) if n} for row in table]
    assert fleiss_kappa(counts) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa([{"a": 3}, {"b": 3}, {"a": 3}]) == pytest.approx(1.0)
    assert fleiss_kappa([{"a": 3}]) != fleiss_kappa([{"a": 3}])  # one category only: nan


def _record(rater, pair, a, b, winner):
    return {"rater": rater, "pair_id": pair, "system_a": a, "system_b": b, "winner": winner,
            "case_id": pair}


def test_win_rates_count_ties_as_half_and_the_latest_choice_per_rater():
    records = [
        _record("ann", "p1", "x", "y", "x"), _record("ann", "p2", "x", "y", "x"),
        _record("ann", "p3", "x", "y", "tie"), _record("ann", "p4", "x", "y", "y"),
        _record("ann", "p4", "x", "y", "x"),  # ann changed her mind on p4: this one counts
        _record("bob", "p1", "x", "y", "x"), _record("bob", "p2", "x", "y", "y"),
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
                handle.write(json.dumps(_record(rater, p.pair_id, p.system_a, p.system_b,
                                                "template")) + "\n")
        handle.write('{"rater": "cut mid-wri')
    md, page = rating_sections(run_dir)
    assert "## Human ratings" in md and "minilm_prob" in md
    template_row = next(line for line in md.splitlines() if line.startswith("| template |"))
    assert template_row.startswith("| template | 1.000 [1.000, 1.000] | 6 | 0.500")
    assert "raw agreement 1.000" in md and "<h2>Human ratings</h2>" in page
    assert rating_sections(Path(run_dir).parent) is None


def test_headless_browser_clicks_through_pairs_and_the_file_records_them(server, run_dir):
    import os
    import shutil

    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium and chromium-driver (.ci/run)")
        pytest.skip("chromium / chromedriver not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path),
                               options=options)
    try:
        browser.get(url(server, "/"))
        browser.find_element(By.ID, "rater").send_keys("carol")
        browser.find_element(By.ID, "start").click()
        clicks = ["choose-left", "choose-right", "choose-tie", "choose-left"]
        shown = []

        def progress_says(done):  # the click submits a form: wait for the next page
            return WebDriverWait(browser, 20, ignored_exceptions=(
                NoSuchElementException, StaleElementReferenceException)).until(
                lambda d: d.find_element(By.ID, "progress").text.startswith(f"{done} of "))

        for done, button in enumerate(clicks):
            progress_says(done)
            subject = browser.find_element(By.ID, "subject").text
            texts = [browser.find_element(By.CSS_SELECTOR, f"#{side} .text").text
                     for side in ("left", "right")]
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
    rows = {(r["system"], r["case_id"]): r["rewrite"] for r in
            (json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines())}
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
            lines.append(json.dumps({
                "system": row["system"], "case_id": row["case_id"], "index": index,
                "path": str(path.relative_to(run_dir)), "subject": row["prompt"],
                "emotion": row["emotion"], "clip_score": 20.0, "pipeline": "text_to_image"}))
    (folder / "records-rank0.jsonl").write_text("\n".join(lines) + "\n")


def test_page_shows_two_images_per_side_without_system_names_in_urls(run_dir):
    _add_images(run_dir, ["identity", "template"])
    server = serve_ratings(run_dir, port=0, systems=["identity", "template"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(url(server, "/?rater=dan")) as response:
            page = response.read().decode()
        sources = [part.split("'")[0] for part in page.split("src='")[1:]]
        assert len(sources) == 4 and all(s.startswith("/image/") for s in sources)
        assert not any(name in page for name in SYSTEMS)
        pair = server.session.pairs[sources[0].split("/")[2]]
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
        taken = cli.invoke(app, ["eval", "rate", str(run_dir), "--port",
                                 str(busy.server_address[1])])
        assert taken.exit_code == 2 and "pass another --port" in taken.stderr
    finally:
        busy.server_close()
    assert "Traceback" not in missing.output + one.output + taken.output
