"""The OpenAPI 3.0 document of the NavTalk endpoints, built from the contract module."""

from __future__ import annotations

from typing import Any

from navtalk_sweep.contract import (
    DEFAULT_CHARACTERS,
    FACE_CONTROLS,
    FACE_FIELDS,
    KNOWN_STATUSES,
    SPEECH_FIELDS,
    VOICES,
    Mode,
)


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


_BASE64 = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def submit_schema(characters: tuple[str, ...] = DEFAULT_CHARACTERS) -> dict[str, Any]:
    """The /generate body: exactly one of the nine modes (oneOf), face controls optional."""
    props: dict[str, Any] = {
        "license": {"type": "string", "minLength": 1, "description": "API key"},
        "video_url": {"type": "string", "minLength": 1},
        "image_url": {"type": "string", "minLength": 1},
        "character_name": {"type": "string", "enum": list(characters)},
        "audio_url": {"type": "string", "minLength": 1},
        "audio_base64": {"type": "string", "minLength": 4, "pattern": _BASE64},
        "content": {"type": "string", "minLength": 1},
        "voice": {"type": "string", "enum": list(VOICES)},
    }
    for c in FACE_CONTROLS.values():
        if c.choices:
            # null asks for the default; OpenAPI 3.0 wants it in the enum of a nullable property too
            props[c.name] = {"type": "string", "enum": [*c.choices, None], "default": c.default, "nullable": True}
        else:
            props[c.name] = {"type": "integer", "default": c.default, "description": c.meaning, "nullable": True}
    modes = []
    for mode in Mode:
        speech = [mode.speech_field] + (["voice"] if mode.speech_field == "content" else [])
        others = [f for f in (*FACE_FIELDS, *SPEECH_FIELDS, "voice") if f not in (mode.face_field, *speech)]
        modes.append({"title": f"mode {mode.value}: {mode.label}", "type": "object",
                      "required": ["license", mode.face_field, *speech], "properties": props,
                      "not": {"anyOf": [{"required": [f]} for f in others]}})
    return {"oneOf": modes}


def openapi_document(base_url: str = "", characters: tuple[str, ...] = DEFAULT_CHARACTERS) -> dict[str, Any]:
    submit = submit_schema(characters)
    return {
        "openapi": "3.0.3",
        "info": {"title": "NavTalk batch API (navtalk-sweep mock)", "version": "1.0"},
        "servers": [{"url": base_url or "/"}],
        "paths": {
            "/generate": {"post": {
                "operationId": "generate",
                "summary": "Submit a lip-sync task (one face source, one speech source)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": submit}}},
                "responses": {
                    "200": {"description": "task created", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["status", "task_id"],
                        "properties": {"status": {"type": "string", "enum": ["started"]},
                                       "task_id": {"type": "string", "format": "uuid"}}}}}},
                    "400": _error("the request fits none of the nine modes, or a field is wrong"),
                    "401": _error("missing or invalid licence"),
                    "429": _error("rate limited; Retry-After may say for how long"),
                    "500": _error("server error"),
                    "502": _error("bad gateway"),
                    "503": _error("unavailable"),
                },
            }},
            "/query_status": {"get": {
                "operationId": "query_status",
                "summary": "Where a task is: started, processing, done (with video_url) or failed",
                "parameters": [
                    {"name": "license", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "task_id", "in": "query", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "the task's status", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["status"],
                        "properties": {"status": {"type": "string", "description": "one of " +
                                                  ", ".join(KNOWN_STATUSES) + " (others may be injected)"},
                                       "video_url": {"type": "string"},
                                       "message": {"type": "string"}}}}}},
                    "401": _error("missing or invalid licence"),
                    "404": _error("no task with this id"),
                    "429": _error("rate limited"),
                    "500": _error("server error"),
                    "502": _error("bad gateway"),
                    "503": _error("unavailable"),
                },
            }},
        },
        "components": {"schemas": {"Error": {
            "type": "object", "required": ["status", "message"],
            "properties": {"status": {"type": "string", "enum": ["error"]}, "message": {"type": "string"}}}}},
    }
