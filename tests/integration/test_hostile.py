"""Secrets and hostile input end to end: a fault-heavy run with key-shaped licences leaves the licence in no
file, log line or report; service strings carrying HTML and JavaScript stay inert in the report."""

from __future__ import annotations

import json

import pytest
import yaml

from navtalk_sweep.record import CaseRecord
from navtalk_sweep.results import write_meta, write_results
from tests.conftest import SCENARIOS
from tests.integration.test_cli_run import FAST, cli
from tests.integration.test_report_browser import browser  # noqa: F401  (the fixture)
from tests.servers import mock_process
from tests.soak.soak import fault_plan

#: fake keys in both shapes a real one takes (contract.redact knows both)
KEYS = ["sk_navtalk_TESTtest0000fake", "sk-test-0000-fake-key-shape"]
XSS = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=1\">"


@pytest.mark.parametrize("key", KEYS)
def test_a_key_shaped_licence_appears_in_no_file_and_no_log_line(tmp_path, key):
    config = tmp_path / "mock.yaml"
    config.write_text(yaml.safe_dump({"timing": "uniform:0.2-0.6", "licenses": [key],
                                      "faults": fault_plan(0.1)[:-3]}))
    log: list[str] = []
    run_dir = tmp_path / "run"
    with mock_process("--config", str(config), log=log) as base:
        # tasks of 0.2-0.6 s: a task stuck in an unknown status gives up after 4 s, not the learned deadline
        proc = cli("run", str(SCENARIOS / "every_voice.yaml"), "--target", base, "--run-dir", str(run_dir),
                   "--license", key, "--case-timeout", "4", *FAST)
    assert proc.returncode in (0, 1), proc.stderr
    assert len(log) > 12  # the mock logged every request
    for text in (proc.stdout, proc.stderr, *log):
        assert key not in text and key[-12:] not in text
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert {"results.jsonl", "journal.jsonl", "run.json", "report.html", "junit.xml"} <= {p.name for p in files}
    for path in files:
        data = path.read_bytes()
        assert key.encode() not in data and key[-12:].encode() not in data, path


def hostile_run(tmp_path):
    """A run whose service put markup in every string it controls: messages, statuses, URLs."""
    records = []
    for i, (outcome, status) in enumerate([("failed", "failed"), ("timeout", XSS), ("rejected", "rejected"),
                                           ("passed", "done")]):
        records.append(CaseRecord.from_dict({
            "case_id": f"c{i}", "outcome": outcome, "scenario": "hostile", "label": f"image+tts bbox_shift={i} {XSS}",
            "params": {"bbox_shift": i, "extra_margin": i % 2, "voice": XSS if i == 3 else "nova"},
            "request": {"image_url": f"https://example.com/{XSS}", "content": XSS, "voice": "nova"},
            "final_status": status, "error": XSS, "task_id": XSS,
            "status_history": [{"status": status, "t": 1.0}], "time_to_done": 1.0 + i,
            "video_url": "javascript:window.__pwned=1", "video": "javascript:window.__pwned=1",
            "checks": [{"check": XSS, "ok": False, "detail": XSS}], "facts": {"codec": XSS}}))
    write_results(tmp_path, records)
    write_meta(tmp_path, {"run_id": XSS, "stop_reason": XSS, "target": {"kind": "url", "generate_url": XSS}})
    from navtalk_sweep.report import publish

    publish(tmp_path)
    return tmp_path / "report.html"


def test_markup_from_the_service_is_text_in_every_view(browser, tmp_path):  # noqa: F811
    report = hostile_run(tmp_path)
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        for view in ("#tab=cases", "#tab=grid&x=bbox_shift&y=extra_margin", "#tab=heatmaps",
                     "#tab=cases&sort=error&q=script"):
            page.goto(report.as_uri() + view)
            for i in range(page.locator("#cases-body tr").count()):
                page.locator("#cases-body tr").nth(i).click()
            page.wait_for_timeout(50)
            assert page.evaluate("window.__pwned") is None, view
        assert "<script>window.__pwned=1</script>" in page.locator("#detail").inner_text()  # shown, as text
        assert dialogs == []
    finally:
        page.close()
    data = json.loads(report.read_text().split('id="navtalk-data">')[1].split("</script>")[0])
    assert data["rows"][0]["v"]["error"] == XSS  # intact as data
