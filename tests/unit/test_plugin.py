"""The pytest plugin, as a user's test suite sees it once the package is installed."""

from __future__ import annotations

pytest_plugins = ["pytester"]


def test_fixture_intercepts_both_hosts_and_moves_time(pytester):
    pytester.makepyfile("""
        import httpx, pytest

        @pytest.mark.navtalk_mock(seed=2, timing="fixed:8")
        def test_render(navtalk_mock):
            r = httpx.post("https://app.navtalk.ai/generate", json={
                "license": "sk-test", "character_name": "girl2", "content": "Hi", "voice": "nova"})
            task = r.json()["task_id"]
            q = lambda: httpx.get("https://api.navtalk.ai/query_status",
                                  params={"license": "sk-test", "task_id": task}).json()
            assert q()["status"] == "started"
            navtalk_mock.advance(8)
            assert q()["status"] == "done"
            assert navtalk_mock.calls == {"generate": 1, "query_status": 2}
            assert [t.task_id for t in navtalk_mock.tasks] == [task]

        def test_scripted_faults(navtalk_mock):
            navtalk_mock.fault("rate_limit", retry_after=3, times=1)
            body = {"license": "sk-test", "image_url": "https://example.com/p.jpg", "audio_url": "https://x/a.mp3"}
            first = httpx.post("https://app.navtalk.ai/generate", json=body)
            assert first.status_code == 429 and first.headers["retry-after"] == "3"
            assert httpx.post("https://app.navtalk.ai/generate", json=body).status_code == 200
            navtalk_mock.fault("drop", endpoint="query")
            with pytest.raises(httpx.RemoteProtocolError):
                httpx.get("https://api.navtalk.ai/query_status", params={"license": "k", "task_id": "x"})

        @pytest.mark.navtalk_mock(licenses=["sk-test-only"])
        def test_licences(navtalk_mock):
            r = httpx.post("https://app.navtalk.ai/generate", json={"license": "sk-test-other"})
            assert r.status_code == 401

        def test_other_hosts_pass_through(navtalk_mock):
            assert navtalk_mock.calls == {}
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=4)


def test_marker_is_registered_with_its_signature(pytester):
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.navtalk_mock(seed=0, **settings): *"])


def test_configured_urls_are_intercepted(pytester):
    pytester.makeini("""
        [pytest]
        navtalk_generate_url = https://staging.example.test/generate
        navtalk_status_url = https://staging.example.test/query_status
    """)
    pytester.makepyfile("""
        import httpx

        def test_staging(navtalk_mock):
            r = httpx.post("https://staging.example.test/generate", json={"license": "k"})
            assert r.json() == {"status": "error", "message": "no face source: give one of video_url, image_url, character_name"}
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_plugin_module_imports_only_pytest_at_start_up():
    import ast
    import inspect

    from navtalk_sweep import plugin

    tree = ast.parse(inspect.getsource(plugin))
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = {(n.module if isinstance(n, ast.ImportFrom) else n.names[0].name) for n in top}
    assert names <= {"__future__", "collections.abc", "typing", "pytest"}


def test_the_marker_replays_a_recording(pytester):
    import shutil

    from tests.conftest import DATA

    shutil.copytree(DATA / "cassettes" / "every_voice-0.1", pytester.path / "rec")
    pytester.makepyfile("""
        import json, pathlib, httpx, pytest

        @pytest.mark.navtalk_mock(replay="rec")
        def test_replayed(navtalk_mock):
            rec = json.loads(pathlib.Path("rec/results.jsonl").read_text().splitlines()[0])
            body = {"license": "sk-test-anything", **rec["request"]}
            task = httpx.post("https://app.navtalk.ai/generate", json=body).json()["task_id"]
            assert task == rec["task_id"]
            navtalk_mock.advance(rec["time_to_done"])
            status = httpx.get("https://api.navtalk.ai/query_status", params={"license": "k", "task_id": task}).json()
            assert status["status"] == rec["final_status"] == "done"
            other = httpx.post("https://app.navtalk.ai/generate", json={**body, "bbox_shift": 99})
            assert other.status_code == 404  # never recorded: refused
    """)
    pytester.runpytest().assert_outcomes(passed=1)
