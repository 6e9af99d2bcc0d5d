"""The vendor's nine curl examples, unchanged but for the host, against `navtalk-sweep mock`."""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
import time

import av
import pytest

from tests.conftest import DATA
from tests.servers import mock_process

DOC = (DATA / "navtalk-api-doc.txt").read_text(encoding="utf-8")
WAV_B64 = base64.b64encode((DATA / "obama_2s_mono.wav").read_bytes()).decode()  # 2.0 s


def curl_examples() -> list[str]:
    """Each `curl -X POST ...` command of the page, as written there."""
    return re.findall(r"curl -X POST .*?\}'", DOC, flags=re.DOTALL)


def run_curl(command: str) -> dict:
    out = subprocess.run(shlex.split(command.replace("\\\n", " ")), capture_output=True, text=True, timeout=30,
                         check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def server():
    with mock_process("--timing", "fixed:0.5", "--quiet") as base:
        yield base


def test_the_page_has_nine_examples():
    assert len(curl_examples()) == 9


@pytest.mark.parametrize("n", range(9), ids=[f"example-{i + 1}" for i in range(9)])
def test_vendor_example_walks_to_a_playable_video(server, n, tmp_path):
    command = curl_examples()[n].replace("https://app.navtalk.ai", server)
    command = command.replace("base64-audio-data", WAV_B64)
    started = run_curl(command + " -s")
    assert started["status"] == "started"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", started["task_id"])
    query = re.search(r'curl -X GET "([^"]+)"', DOC).group(1)
    query = query.replace("https://api.navtalk.ai", server).replace("14cb760f-05ac-4fd3-a82c-e841f2f005d0",
                                                                    started["task_id"])
    seen = []
    for _ in range(100):  # the mock takes 0.5 s: poll a little faster than that, at most 10 s
        status = run_curl(f'curl -s -X GET "{query}"')
        seen.append(status["status"])
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert seen[-1] == "done", seen
    video = tmp_path / "result.mp4"
    subprocess.run(["curl", "-s", "-o", str(video), status["video_url"]], check=True, timeout=30)
    with av.open(str(video)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        seconds = container.duration / 1e6
    if "audio_base64" in command:
        assert seconds == pytest.approx(2.0, abs=0.2)
