"""Schemathesis against /openapi.json: no server error, no answer that breaks the document."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from mock_server import create_app, create_service
from navtalk_sweep.clock import ManualClock

APP = create_app(create_service(seed=3, clock=ManualClock()))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case):
    case.call_and_validate()
