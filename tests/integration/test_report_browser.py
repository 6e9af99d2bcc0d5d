"""The HTML report in headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from navtalk_sweep.cli import main
from navtalk_sweep.record import CaseRecord
from tests.conftest import ROOT, SCENARIOS, read_results, small_tuning

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("run")
    # the tuning scenario cut to 3 x 2 of its 7 x 4 settings and 1 s of its speech
    tuning = small_tuning(root)
    run_dir = root / "r"
    code = main(["run", str(tuning), str(SCENARIOS / "contract_violations.yaml"), "--run-dir", str(run_dir), "--quiet"])
    assert code == 0
    return run_dir / "report.html"


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
            "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


@pytest.fixture
def page(report, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.errors, page.external = [], []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.external.append(r.url) if not r.url.startswith(("file:", "data:", "blob:"))
            else None)
    yield page
    context.close()


def rows(page) -> list[str]:
    return page.locator("#cases-body tr td:first-child").all_inner_texts()


def test_table_sorts_filters_and_counts(page, report):
    page.goto(report.as_uri())
    assert page.locator("#total-cases").inner_text() == "11"
    assert page.locator("#cases-body tr").count() == 11
    before = rows(page)
    page.click("#cases-head th[data-col='bbox_shift']")
    page.click("#cases-head th[data-col='bbox_shift']")  # descending
    after = rows(page)
    assert sorted(before) == sorted(after) and before != after
    assert after[0].startswith("image+base64 bbox_shift=9")
    page.select_option("select[data-filter='scenario']", "bbox-margin")
    assert page.locator("#cases-body tr").count() == 6
    page.fill("#search", "extra_margin=50")
    assert page.locator("#cases-body tr").count() == 3
    assert "f.scenario=bbox-margin" in page.url and "q=extra_margin%3D50" in page.url
    page.locator("#cases-body tr").first.click()
    assert "licence redacted" in page.locator("#detail").inner_text()
    assert page.errors == [] and page.external == []


def test_grid_shows_chosen_axes_and_one_control_plays_all(page, report):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(report.as_uri() + "#tab=grid&x=extra_margin&y=bbox_shift&f.scenario=bbox-margin")
    grid = page.locator("#grid")
    assert grid.get_attribute("data-x") == "extra_margin" and grid.get_attribute("data-y") == "bbox_shift"
    headers = page.locator("#grid tr").first.locator("th").all_inner_texts()[1:]
    assert headers == ["extra_margin=0", "extra_margin=50"]
    videos = page.locator("#grid video")
    assert videos.count() == 6
    assert all(v == "none" for v in videos.evaluate_all("vs => vs.map(v => v.getAttribute('preload'))"))
    page.click("#play-all")
    page.wait_for_function("() => [...document.querySelectorAll('#grid video')].every(v => !v.paused)",
                           timeout=15000)
    page.screenshot(path=str(ARTIFACTS / "report-grid.png"), full_page=False)
    page.click("#pause-all")
    assert videos.evaluate_all("vs => vs.every(v => v.paused)")
    page.fill("#seek-all", "500")
    page.dispatch_event("#seek-all", "input")
    times = videos.evaluate_all("vs => vs.map(v => v.currentTime)")
    assert len({round(t, 1) for t in times}) == 1 and times[0] >= 0.4  # half of the 1 s videos
    assert page.errors == [] and page.external == []


@pytest.fixture(scope="module")
def merged(report, tmp_path_factory) -> Path:
    """The run merged into a directory of its own: its report must keep every picture (merge once dropped them)."""
    out = tmp_path_factory.mktemp("merged") / "m"
    assert main(["merge", str(report.parent), "--out", str(out)]) == 0
    return out / "report.html"


@pytest.mark.parametrize("which", ["run", "merged"])
def test_posters_mouth_strips_and_measured_columns(page, report, merged, which):
    pytest.importorskip("mediapipe", reason="needs the face extra")
    report = merged if which == "merged" else report
    page.goto(report.as_uri() + "#tab=grid&x=extra_margin&y=bbox_shift&f.scenario=bbox-margin")
    posters = page.locator("#grid video").evaluate_all("vs => vs.map(v => v.getAttribute('poster'))")
    assert len(posters) == 6 and len(set(posters)) == 6 and all(p.startswith("posters/") for p in posters)
    sizes = page.evaluate("""async (src) => { const i = new Image(); i.src = src; await i.decode();
                                              return [i.naturalWidth, i.naturalHeight]; }""", posters[0])
    assert sizes == [256, 256]
    page.goto("about:blank")
    page.goto(report.as_uri() + "#tab=cases&f.scenario=bbox-margin")
    heads = page.locator("#cases-head th").all_inner_texts()
    assert "lip sync" in heads and "mouth open (p95)" in heads
    page.locator("#cases-body tr").first.click()
    strip = page.locator("#detail img.mouths")
    strip.wait_for()
    page.wait_for_function("() => document.querySelector('#detail img.mouths').complete")
    assert strip.evaluate("i => i.naturalWidth") == 8 * 96
    assert page.errors == [] and page.external == []


def test_heatmaps_and_marks(page, report):
    page.goto(report.as_uri() + "#tab=heatmaps")
    assert page.locator(".heatmap-box:not(.hidden) svg rect").count() >= 6
    page.goto("about:blank")
    page.goto(report.as_uri() + "#tab=grid&x=extra_margin&y=bbox_shift&f.scenario=bbox-margin")
    page.locator("#grid select[aria-label='rating']").first.select_option("4")
    with page.expect_download() as download:
        page.click("#export-marks")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert '"rating": "4"' in text
    assert page.errors == []


def test_ten_thousand_cases_stay_paged_sortable_and_filterable(browser, tmp_path):
    from navtalk_sweep.report import write_html
    from navtalk_sweep.results import load_run, write_meta, write_results

    records = []
    for i in range(10_000):
        shift, margin = i % 19 - 9, (i // 19) % 11 * 5
        records.append({"case_id": f"{i:012x}", "key": f"{i:012x}", "scenario": "big", "mode": 4,
                        "label": f"image+tts bbox_shift={shift} extra_margin={margin} n={i}",
                        "params": {"bbox_shift": shift, "extra_margin": margin},
                        "outcome": "passed" if i % 10 else "failed", "time_to_done": 5 + (i * 7919 % 1500) / 100,
                        "polls": 3, "request": {}, "status_history": []})
    write_results(tmp_path, [CaseRecord.from_dict(r) for r in records])
    write_meta(tmp_path, {"run_id": "big"})
    path = write_html(load_run(tmp_path))
    page = browser.new_page()
    try:
        page.goto(path.as_uri())
        assert page.locator("#pager").inner_text().startswith("10000 of 10000 cases · page 1/50")
        assert page.locator("#cases-body tr").count() == 200  # the DOM holds one page, not 10,000 rows
        page.click("#cases-head th[data-col='time_to_done']")
        page.click("#cases-head th[data-col='time_to_done']")
        column = page.locator("#cases-head th").all_inner_texts().index("time to done")
        assert page.locator("#cases-body tr").first.locator("td").nth(column).inner_text() == "19.99"
        page.select_option("select[data-filter='outcome']", "failed")
        assert page.locator("#pager").inner_text().startswith("1000 of 10000 cases")
    finally:
        page.close()


def test_the_best_settings_tab_ranks_and_says_it_cannot_tell_noise_from_one_video(page, report):
    page.goto(report.as_uri() + "#tab=best")
    panel = page.locator(".best-panel:not(.hidden)")
    assert panel.count() == 1
    assert panel.locator("figure").count() == 3
    assert "repeat to separate" in panel.locator(".verdict").inner_text()
    page.select_option("#best-pick", "seam")
    assert "ranked by seam" in page.locator(".best-panel:not(.hidden)").inner_text()
    assert page.errors == [] and page.external == []


def test_repeats_show_each_case_s_interval_in_the_table_and_ties_in_the_best_panel(browser, tmp_path):
    # 2 settings x 2 repeats of a real render; the simulator renders one request's bytes every time, so its
    # repeats agree exactly and the two settings are apart; the same run with the service's noise added to
    # its lip sync (repeats 0.1 apart) is a tie
    tuning = small_tuning(tmp_path, step=18, margins="[0]")
    run_dir = tmp_path / "r"
    with ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
        assert pool.submit(main, ["run", str(tuning), "--run-dir", str(run_dir), "--repeat", "2", "--quiet"]).result() == 0

    def best_and_intervals() -> tuple[str, list[str]]:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto((run_dir / "report.html").as_uri() + "#tab=cases")
            heads = page.locator("#cases-head th").all_inner_texts()
            column = next(i for i, h in enumerate(heads) if h.startswith("lip sync"))
            cells = page.locator(f"#cases-body tr td:nth-child({column + 1}) .ci").all_inner_texts()
            page.goto("about:blank")
            page.goto((run_dir / "report.html").as_uri() + "#tab=best")
            page.select_option("#best-pick", "lip_sync")
            assert "null" not in page.locator("body").inner_text()
            return page.locator(".best-panel:not(.hidden) .verdict").inner_text(), cells
        finally:
            page.close()

    verdict, cells = best_and_intervals()
    assert len(cells) == 4 and all(c.endswith(" ± 0.000 (95 %, 2 videos)") for c in cells), cells
    assert verdict.startswith("#1 is better than #2 beyond the noise")
    records = read_results(run_dir)
    for r in records:
        r["metrics"]["lip_sync"] = round(r["metrics"]["lip_sync"] + (0.05 if r["repeat"] == 1 else -0.05), 4)
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(main, ["report", str(run_dir)]).result() == 0
    verdict, cells = best_and_intervals()
    assert len(cells) == 4 and all(" ± 0.635 (95 %, 2 videos)" in c for c in cells), cells  # t(1) 12.71 x 0.05
    assert "a tie" in verdict


def test_a_served_page_follows_the_run_until_it_finishes(browser, tmp_path):
    # the run is held after its third case while the page is opened from `serve`, then let go: the page
    # reloads itself (the rewrite period, here every case, a second at least) until the final report
    import threading

    from playwright.sync_api import expect

    from navtalk_sweep._cli_report import serve_run
    from navtalk_sweep.runner import CaseFinished
    from navtalk_sweep.session import Sweep, Target, load_plan

    run_dir, finished, held, go, failed = tmp_path / "r", [], threading.Event(), threading.Event(), []

    def hold(event):
        if isinstance(event, CaseFinished):
            finished.append(event)
            if len(finished) == 3:
                held.set()
                go.wait(60)

    def run():
        try:
            Sweep(load_plan([SCENARIOS / "every_voice.yaml"]), run_dir, target=Target.mock(), live_every=0.0,
                  on_event=hold).run()
        except BaseException as exc:  # noqa: BLE001 - told to the test below
            failed.append(exc)
            held.set()

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    assert held.wait(60) and not failed, failed
    where: dict = {}
    served = threading.Event()
    server = threading.Thread(target=serve_run, args=(run_dir, 0, lambda url, s: (where.update(url=url, s=s),
                                                                                  served.set())), daemon=True)
    server.start()
    assert served.wait(10)
    page = browser.new_page()
    try:
        page.goto(where["url"])
        # the last rewrite before the hold (a page is rewritten no sooner than 4 times its own writing took)
        shown = re.search(r"Still running: (\d+) case\(s\) finished so far", page.locator("body").inner_text())
        assert shown and 1 <= int(shown.group(1)) <= 3
        assert page.locator("#cases-body tr").count() == int(shown.group(1))
        assert "reloads itself every 1 s" in page.locator("body").inner_text()  # as often as it is rewritten
        go.set()
        # the run first (its renders and measures take their time on a loaded machine), then the page: it
        # reloads itself until it is the final report; a locator is asked again after each reload
        runner.join(300)
        assert not runner.is_alive() and not failed, failed
        expect(page.locator("body")).not_to_contain_text("Still running", timeout=30_000)
        total = len(read_results(run_dir))
        assert total > 3 and page.locator("#pager").inner_text().startswith(f"{total} of {total} cases")
        assert page.locator("meta[http-equiv='refresh']").count() == 0
    finally:
        go.set()
        page.close()
        where["s"].shutdown()
