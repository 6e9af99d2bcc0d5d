from __future__ import annotations

import json

import pytest

from navtalk_sweep.cli import main
from navtalk_sweep.contract import Mode
from navtalk_sweep.scenario import load_path, load_scenarios, load_text
from tests.conftest import SCENARIOS

BASE = """
name: s
inputs:
  faces:
    clip: {video_url: "https://example.com/video.mp4"}
    girl: {character_name: girl2}
  speech:
    hello: {text: "Welcome to NavTalk.", voice: nova}
    mp3: {audio_url: "https://example.com/audio.mp3"}
"""


def plan(extra: str):
    return load_text(BASE + extra, "s.yaml").plans[0]


def test_quickstart_covers_all_nine_modes_and_sweeps_a_face_control():
    (p,) = load_path(SCENARIOS / "quickstart.yaml").plans
    modes, _, _ = p.summary()
    assert set(modes) == {m.value for m in Mode}
    assert len({c.params["bbox_shift"] for c in p}) >= 2


def test_plan_of_all_examples_counts(capsys):
    assert main(["plan", "--format", "json", str(SCENARIOS)]) == 0
    data = json.loads(capsys.readouterr().out)
    by_name = {s["name"]: s for s in data["scenarios"]}
    assert by_name["quickstart"]["cases"] == 27
    assert by_name["quickstart"]["modes"] == {str(m): 3 for m in range(1, 10)}
    assert by_name["bbox-margin"]["cases"] == 7 * 4
    assert by_name["cheeks-linked"]["cases"] == 5 * 2
    assert by_name["every-voice"]["voices"] == {v: 2 for v in ("alloy", "echo", "fable", "onyx", "nova", "shimmer")}
    assert data["total"]["cases"] == sum(s["cases"] for s in data["scenarios"])
    assert by_name["every-voice"]["first"][0] == {"case_id": "e7af067adbe2", "mode": 9,
                                                  "label": "character+tts face=girl2 voice=alloy"}


def test_count_removes_excluded_and_adds_included():
    p = plan("""
matrix:
  face: [clip, girl]
  speech: [hello]
  bbox_shift: {from: -3, to: 3, step: 3}
exclude:
  - {face: girl, bbox_shift: [-3, 3]}
include:
  - {face: girl, speech: hello, bbox_shift: 9}
""")
    assert p.count() == 2 * 3 - 2 + 1
    assert len(list(p)) == p.count()
    assert sorted(c.params["bbox_shift"] for c in p if c.params["face"] == "girl") == [0, 9]


def test_linked_axis_moves_fields_together():
    p = plan("""
matrix:
  face: [girl]
  speech: [hello]
  cheeks: {link: {left_cheek_width: [60, 120], right_cheek_width: [70, 130]}}
""")
    assert [(c.request["left_cheek_width"], c.request["right_cheek_width"]) for c in p] == [(60, 70), (120, 130)]


def test_case_label_and_request():
    p = plan("""
matrix:
  face: [girl]
  speech: [hello]
  voice: [nova, echo]
  bbox_shift: [3]
""")
    first = next(iter(p))
    assert first.label == "character+tts voice=nova bbox_shift=3"
    assert first.request == {"character_name": "girl2", "content": "Welcome to NavTalk.", "voice": "nova",
                             "bbox_shift": 3}
    assert first.mode is Mode.CHARACTER_TEXT


def test_default_voice_does_not_leak_into_audio_cases():
    p = plan("""
defaults: {voice: onyx}
matrix:
  face: [girl]
  speech: [hello, mp3]
""")
    voices = {c.request.get("content"): c.request.get("voice") for c in p}
    assert voices == {"Welcome to NavTalk.": "nova", None: None}


def test_local_files_are_sent_as_base64_and_media_tokens():
    (p,) = load_path(SCENARIOS / "bbox_margin_tuning.yaml").plans
    case = next(iter(p))
    assert case.request["image_url"].startswith("media://")
    assert len(case.request["audio_base64"]) > 100_000
    assert case.speech_seconds == pytest.approx(5.01, abs=0.02)
    body = case.body("sk-test", lambda token, path: "http://127.0.0.1/media/" + token[8:])
    assert body["image_url"].startswith("http://127.0.0.1/media/") and body["license"] == "sk-test"


def test_directory_of_files_and_duplicate_names(tmp_path):
    text = BASE + "matrix: {face: [girl], speech: [hello]}\n"
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(text, encoding="utf-8")
    from navtalk_sweep.errors import ScenarioError

    with pytest.raises(ScenarioError, match="scenario 's' is also defined in"):
        load_scenarios([tmp_path])


def test_schema_command_prints_a_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "bbox_shift" not in json.dumps(schema["$defs"]["Sample"])


def test_examples_validate_against_the_schema(capsys):
    import jsonschema
    import yaml

    main(["schema"])
    schema = json.loads(capsys.readouterr().out)
    for f in SCENARIOS.glob("*.yaml"):
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        jsonschema.validate(data, schema)


def test_schema_file_in_docs_is_current(capsys):
    from tests.conftest import ROOT

    main(["schema"])
    printed = json.loads(capsys.readouterr().out)
    stored = json.loads((ROOT / "docs" / "scenario.schema.json").read_text(encoding="utf-8"))
    assert printed == stored, "regenerate with: navtalk-sweep schema > docs/scenario.schema.json"
