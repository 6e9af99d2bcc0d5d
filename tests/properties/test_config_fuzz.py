"""Any simulator settings file gives a config or one InvalidArgument, never another exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from navtalk_sweep.errors import InvalidArgument
from navtalk_sweep.simulator import SimulatorConfig

KEYS = ["licenses", "characters", "timing", "faults", "unreachable_media", "max_submits_per_second",
        "error_field", "kind", "endpoint", "probability", "times", "when", "retry_after", "model", "seconds",
        "low", "high", "bogus"]
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 50), st.floats(allow_nan=False),
              st.sampled_from(["fixed:2", "uniform:1-3", "speech", "drop", "http_503", "query", "bbox_shift > 3",
                               "fail", "girl2", "nope"]), st.text(max_size=6)),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.sampled_from(KEYS), c, max_size=4)),
    max_leaves=15,
)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=5))
def test_settings_load_or_say_why(data):
    try:
        config = SimulatorConfig.from_dict(data)
    except InvalidArgument as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(config.as_dict(), dict)
