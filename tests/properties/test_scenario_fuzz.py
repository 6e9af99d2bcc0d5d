"""Any YAML at all gives either plans or one ScenarioError line with a position, never a crash."""

from __future__ import annotations

import re

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from navtalk_sweep.errors import ScenarioError
from navtalk_sweep.scenario import load_text

NAMES = ["name", "inputs", "faces", "speech", "matrix", "face", "voice", "bbox_shift", "extra_margin",
         "parsing_mode", "left_cheek_width", "right_cheek_width", "link", "from", "to", "step", "exclude",
         "include", "defaults", "sample", "method", "n", "seed", "expect", "status", "within", "rejected",
         "scenarios", "text", "audio_url", "character_name", "image_url", "video_url", "cheeks", "girl", "hi"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-20, 200), st.floats(allow_nan=False, width=32),
                    st.sampled_from(NAMES + ["nova", "girl2", "jaw", "raw", "all", "pairwise", "random"]),
                    st.text(max_size=8))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(NAMES), children, max_size=5)),
    max_leaves=25,
)
WHERE = re.compile(r"^fuzz\.yaml(:\d+:\d+)?: \S")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_loader_answers_any_document_with_plans_or_one_located_error(doc):
    text = yaml.safe_dump(doc)
    try:
        loaded = load_text(text, "fuzz.yaml")
    except ScenarioError as exc:
        message = str(exc)
        assert WHERE.match(message), message
        assert "\n" not in message
        return
    for plan in loaded.plans:
        assert plan.count() >= 0
        for case in plan.head(3):
            assert case.case_id and case.label


VALID = """
name: ok
inputs:
  faces: {girl: {character_name: girl2}}
  speech: {hi: {text: "hello there", voice: nova}}
matrix:
  bbox_shift: [0, 3]
"""


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.text(min_size=1, max_size=3))
def test_a_corrupted_valid_file_still_fails_politely(position, junk):
    text = VALID[:position] + junk + VALID[position + 1:]
    try:
        load_text(text, "fuzz.yaml")
    except ScenarioError as exc:
        assert WHERE.match(str(exc)) and "\n" not in str(exc), str(exc)
