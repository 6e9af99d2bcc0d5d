"""Choosing with the doubt shown: intervals over repeats, ties, precision, best-settings panels (issue 19)."""

from __future__ import annotations

import math

import pytest

from navtalk_sweep.record import FIELDS, CaseRecord
from navtalk_sweep.report._stats import digits_to_separate, estimate, separated
from navtalk_sweep.report._view import best_panels, heatmap_svg
from navtalk_sweep.results import write_meta
from tests.unit.test_report import make_run, record


def rec(shift: int, margin: int, lip: float, repeat: int = 1) -> dict:
    case_id = f"c{shift}_{margin}"
    out = record(case_id, metrics={"lip_sync": lip}, video=f"videos/{case_id}.mp4")
    out.update(key=case_id if repeat == 1 else f"{case_id}~{repeat}", repeat=repeat,
               params={"face": "f", "bbox_shift": shift, "extra_margin": margin})
    return out


def test_an_interval_is_students_t_over_the_repeats_and_one_value_has_none():
    one = estimate([0.5])
    assert one is not None and one.half_width is None and one.text(2) == "0.50"
    three = estimate([1.0, 2.0, 3.0])
    assert three is not None and three.half_width == pytest.approx(4.303 / math.sqrt(3))
    assert three.text(1) == "2.0 ± 2.5"


def test_two_settings_are_separated_only_beyond_welchs_interval():
    a, b, c = estimate([0.80, 0.81, 0.79]), estimate([0.90, 0.91, 0.89]), estimate([0.79, 0.83, 0.81])
    assert a is not None and b is not None and c is not None
    assert separated(a, b) is True
    assert separated(a, c) is False
    single = estimate([0.9])
    assert single is not None and separated(single, a) is None  # one video cannot say


def test_values_print_to_the_precision_that_tells_them_apart():
    assert digits_to_separate([0.860, 0.879, 0.87]) == 3  # the heatmap printed 0.9 in every cell
    assert digits_to_separate([0.5, 0.7]) == 2
    assert digits_to_separate([3.0, 4.0]) == 1
    assert digits_to_separate([10.0, 30.0, 50.0]) == 0
    assert digits_to_separate([1.0, 1.00001]) == 4  # at most four


def test_a_heatmap_of_noise_says_so_and_does_not_stretch_it(tmp_path):
    lips = [0.860, 0.871, 0.879, 0.866]  # the heatmap: "0.9" in every cell, one corner looked best
    records = [CaseRecord.from_dict(rec(s, m, lips[i])) for i, (s, m) in enumerate([(0, 0), (0, 10), (3, 0), (3, 10)])]
    svg = str(heatmap_svg(records, "bbox_shift", "extra_margin", [0, 3], [0, 10], FIELDS["lip_sync"]))
    assert ">0.860<" in svg and ">0.879<" in svg  # not 0.9 everywhere
    assert ">0.000<" in svg and ">1.000<" in svg  # the legend: lip sync's whole scale, not 0.860..0.879
    assert "one video per cell" in svg
    repeated = [CaseRecord.from_dict(rec(s, m, lips[i] + d, r)) for i, (s, m) in enumerate([(0, 0), (0, 10), (3, 0), (3, 10)])
                for r, d in ((1, -0.03), (2, 0.0), (3, 0.03))]
    svg = str(heatmap_svg(repeated, "bbox_shift", "extra_margin", [0, 3], [0, 10], FIELDS["lip_sync"]))
    assert "noise between repeats: ±0.07" in svg and "treat them as ties" in svg


def test_the_best_settings_panel_ranks_by_the_declared_objective_and_says_whether_first_is_first(tmp_path):
    rows = [rec(0, 0, 0.80), rec(3, 0, 0.90), rec(6, 0, 0.85)]
    run = make_run(tmp_path / "one", rows)
    write_meta(run.path, {**run.meta, "choose": {"s": {"weights": {"lip_sync": 1.0}, "direction": "maximize"}}})
    from navtalk_sweep.results import load_run

    panel = best_panels(load_run(run.path))
    assert len(panel) == 1
    assert [t["setting"] for t in panel[0]["top"]] == ["bbox_shift=3 extra_margin=0", "bbox_shift=6 extra_margin=0",
                                                        "bbox_shift=0 extra_margin=0"]
    assert "repeat to separate" in panel[0]["verdict"]
    repeated = [rec(s, 0, v + d, r) for s, v in ((0, 0.80), (3, 0.90)) for r, d in ((1, -0.01), (2, 0), (3, 0.01))]
    run = make_run(tmp_path / "three", repeated)
    write_meta(run.path, {**run.meta, "choose": {"s": {"weights": {"lip_sync": 1.0}, "direction": "maximize"}}})
    panel = best_panels(load_run(run.path))
    assert panel[0]["top"][0]["value"] == "0.900 ± 0.025" and panel[0]["top"][0]["n"] == 3
    assert panel[0]["verdict"].startswith("#1 is better than #2 beyond the noise")
    # no objective declared: one panel per measure that has a better direction, video measures first
    plain = make_run(tmp_path / "plain", rows)
    assert [p["key"] for p in best_panels(plain)] == ["lip_sync"]


def test_compare_calls_a_measure_worse_beyond_the_noise_or_the_declared_drop(tmp_path, capsys):
    from navtalk_sweep.cli import main
    from navtalk_sweep.report import compare_runs

    def run_of(name: str, lips: list[float], meta: dict | None = None):
        run = make_run(tmp_path / name, [rec(0, 0, v, r + 1) for r, v in enumerate(lips)], name)
        if meta:
            write_meta(run.path, {**run.meta, **meta})
        from navtalk_sweep.results import load_run

        return load_run(run.path)

    base = run_of("base", [0.90, 0.91, 0.89])
    worse = run_of("worse", [0.80, 0.81, 0.79])
    items = compare_runs(base, worse).regressions
    assert [i["kind"] for i in items] == ["measure worse"]
    assert "lip sync 0.9 -> 0.8, beyond the noise of 3 and 3 repeats" in items[0]["detail"]
    assert main(["compare", str(base.path), str(worse.path)]) == 1
    assert "measure worse" in capsys.readouterr().out
    same = run_of("same", [0.89, 0.92, 0.90])
    assert compare_runs(base, same).items == []  # within the noise: nothing to say
    # one video each: a change cannot be told from noise, unless the scenario declares how much may go
    one_old, one_new = run_of("one_old", [0.90]), run_of("one_new", [0.80])
    assert compare_runs(one_old, one_new).items == []
    declared = run_of("declared", [0.80], {"tolerances": {"s": {"lip_sync": 0.05}}})
    assert [i["kind"] for i in compare_runs(one_old, declared).regressions] == ["measure worse"]
    lenient = run_of("lenient", [0.80], {"tolerances": {"s": {"lip_sync": 0.2}}})
    assert compare_runs(one_old, lenient).items == []


def test_a_measure_computed_another_way_is_not_compared_and_the_comparison_says_so(tmp_path, capsys):
    from navtalk_sweep.cli import main
    from navtalk_sweep.record import revisions
    from navtalk_sweep.report import compare_runs, format_comparison
    from navtalk_sweep.results import load_run

    assert revisions()["lip_sync"] == 2  # the score counts openings' timing since the fifteenth session

    def run_of(name: str, lip: float, seam: float, meta: dict):
        row = rec(0, 0, lip)
        row["metrics"] = {"lip_sync": lip, "seam": seam}
        run = make_run(tmp_path / name, [row], name)
        write_meta(run.path, {**run.meta, "tolerances": {"s": {"lip_sync": 0.05, "seam": 1.0}}, **meta})
        return load_run(run.path)

    old = run_of("old", 0.95, 2.0, {})  # a run.json from before revisions: every measure at revision 1
    new = run_of("new", 0.85, 5.0, {"measures": {"lip_sync": 2}})
    found = compare_runs(old, new)
    assert [i["kind"] for i in found.regressions] == ["measure worse"] and "seam" in found.regressions[0]["detail"]
    apart = [i for i in found.items if i["kind"] == "not compared"]
    assert len(apart) == 1 and "lip sync: the baseline computed it by revision 1, this run by revision 2" in apart[0]["detail"]
    assert "  not compared  every case lip sync: the baseline" in format_comparison(found)
    again = run_of("again", 0.85, 2.0, {"measures": {"lip_sync": 2}})
    assert [i["kind"] for i in compare_runs(new, again).items] == []  # the same revision: compared, within the drop
    assert main(["compare", str(old.path), str(again.path)]) == 0  # only a measure not compared: no regression
    assert "not compared" in capsys.readouterr().out


def test_a_measure_every_case_failed_on_is_a_column_and_a_heatmap_even_when_constant(tmp_path):
    from navtalk_sweep.report._view import axes_of, columns, heatmaps

    rows = []
    for s in (0, 3):
        for m in (0, 10):
            r = rec(s, m, 0.8)
            r.update(metrics={"lip_sync": 0.8 + s / 100, "frozen_seconds": 1.2}, outcome="failed",
                     checks=[{"check": "frozen_seconds", "ok": False, "detail": "1.2 s (expected <= 0.5)"}])
            rows.append(r)
    run = make_run(tmp_path / "r", rows)
    axes = axes_of(run.records)
    assert "frozen_seconds" in [c["name"] for c in columns(run, axes)]
    assert "frozen_seconds" in {h["metric"] for h in heatmaps(run, axes)}
