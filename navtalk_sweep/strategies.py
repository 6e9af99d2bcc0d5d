"""Hypothesis strategies for NavTalk requests, read from the contract.

    from navtalk_sweep.strategies import submit_bodies, broken_submit_bodies

    @given(submit_bodies(modes=[Mode.IMAGE_TEXT]))
    def test_my_client_builds_valid_requests(body): ...
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as exc:  # say what to install, not only what is missing
    raise ImportError("navtalk_sweep.strategies needs Hypothesis: pip install 'navtalk-sweep[test]' "
                      "(or pip install hypothesis)") from exc

from navtalk_sweep.contract import DEFAULT_CHARACTERS, FACE_CONTROLS, FACE_FIELDS, SPEECH_FIELDS, VOICES, Mode
from navtalk_sweep.errors import InvalidArgument

__all__ = ["broken_submit_bodies", "face_controls", "submit_bodies"]

_URLS = st.sampled_from(["https://example.com/video.mp4", "https://example.com/photo.jpg",
                         "https://example.com/audio.mp3", "http://127.0.0.1:9/nothing.wav"])
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=80).filter(str.strip)


def face_controls(*, within_suggestion: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the five face controls; ``within_suggestion`` keeps numbers in the vendor's ranges."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for c in FACE_CONTROLS.values():
        if c.choices:
            fields[c.name] = st.sampled_from(c.choices)
        elif within_suggestion and c.suggested:
            fields[c.name] = st.integers(*c.suggested)
        else:
            fields[c.name] = st.integers(-1000, 1000)
    return st.fixed_dictionaries({}, optional=fields)


def _speech(field: str) -> st.SearchStrategy[dict[str, Any]]:
    if field == "audio_url":
        return st.fixed_dictionaries({"audio_url": _URLS})
    if field == "audio_base64":
        return st.fixed_dictionaries({"audio_base64": st.binary(min_size=1, max_size=64).map(
            lambda b: base64.b64encode(b).decode())})
    return st.fixed_dictionaries({"content": _TEXT, "voice": st.sampled_from(list(VOICES))})


def submit_bodies(*, modes: Sequence[Mode] | None = None, license: str = "sk-test",
                  characters: Sequence[str] = DEFAULT_CHARACTERS) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies the contract accepts: one face source, one speech source, optional face controls."""
    chosen = list(modes) if modes is not None else list(Mode)
    if not chosen or not all(isinstance(m, Mode) for m in chosen):
        raise InvalidArgument(f"modes must be a non-empty sequence of Mode, got {modes!r}")
    if not characters:
        raise InvalidArgument("characters must name at least one built-in role")

    def build(mode: Mode) -> st.SearchStrategy[dict[str, Any]]:
        face = st.sampled_from(list(characters)) if mode.face_field == "character_name" else _URLS
        def body(parts: tuple[str, dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
            return {"license": license, mode.face_field: parts[0], **parts[1], **parts[2]}

        return st.tuples(face, _speech(mode.speech_field), face_controls()).map(body)

    return st.sampled_from(chosen).flatmap(build)


def broken_submit_bodies(*, license: str = "sk-test") -> st.SearchStrategy[Any]:
    """Bodies the contract refuses: missing or doubled sources, wrong types, unknown voices, not objects."""
    valid = submit_bodies(license=license)

    def drop_face(b: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in b.items() if k not in FACE_FIELDS}

    def drop_speech(b: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in b.items() if k not in (*SPEECH_FIELDS, "voice")}

    junk = st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2), st.booleans())
    return st.one_of(
        valid.map(drop_face),
        valid.map(drop_speech),
        st.tuples(valid, st.sampled_from(FACE_FIELDS)).map(lambda t: {**t[0], t[1]: t[0].get(t[1]) or "girl2"})
        .filter(lambda b: sum(f in b for f in FACE_FIELDS) > 1),
        st.tuples(valid, st.sampled_from(sorted(FACE_FIELDS + SPEECH_FIELDS)), junk).map(
            lambda t: {**t[0], t[1]: t[2]}).filter(lambda b: any(f in b and not isinstance(b[f], str)
                                                              for f in FACE_FIELDS + SPEECH_FIELDS)),
        valid.filter(lambda b: "voice" in b).map(lambda b: {**b, "voice": "robot"}),
        st.tuples(valid, st.sampled_from(sorted(c for c in FACE_CONTROLS if c != "parsing_mode")), _TEXT).map(
            lambda t: {**t[0], t[1]: t[2]}),
        junk,
    )
