"""pytest plugin: the ``navtalk_mock`` fixture and the ``navtalk_mock`` marker.

Only pytest is imported at start-up; the mock is imported when a test asks for it.

    @pytest.mark.navtalk_mock(seed=3, timing="fixed:5")
    def test_my_integration(navtalk_mock):
        my_service.render(...)             # calls https://app.navtalk.ai/generate
        navtalk_mock.advance(5)
        assert navtalk_mock.calls["generate"] == 1
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from navtalk_sweep.mock import NavTalkMock


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("navtalk_generate_url", "URL the navtalk_mock fixture intercepts for /generate",
                  default="https://app.navtalk.ai/generate")
    parser.addini("navtalk_status_url", "URL the navtalk_mock fixture intercepts for /query_status",
                  default="https://api.navtalk.ai/query_status")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "navtalk_mock(seed=0, **settings): configure the navtalk_mock fixture (settings as in SimulatorConfig, "
        "e.g. timing='fixed:5', licenses=['sk-test'], faults=[{'kind': 'http_503'}])",
    )


@pytest.fixture
def navtalk_mock(request: pytest.FixtureRequest) -> Iterator[NavTalkMock]:
    """A NavTalk simulator intercepting both NavTalk base URLs through respx, on a manual clock."""
    __tracebackhide__ = True
    from navtalk_sweep.mock import NavTalkMock
    from navtalk_sweep.simulator import SimulatorConfig

    marker = request.node.get_closest_marker("navtalk_mock")
    settings: dict[str, Any] = dict(marker.kwargs) if marker else {}
    seed = int(settings.pop("seed", 0))
    config = SimulatorConfig.from_dict(settings) if settings else None
    urls = (request.config.getini("navtalk_generate_url"), request.config.getini("navtalk_status_url"))
    with NavTalkMock(seed=seed, config=config, base_urls=urls) as mock:
        yield mock
