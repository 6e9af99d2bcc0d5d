"""Reading a journal back: every event, or only the finished cases' records without decoding the rest."""

from __future__ import annotations

from navtalk_sweep.record import CaseRecord, Outcome
from navtalk_sweep.results import Journal, VideoSink, finished_records, read_journal, replay
from navtalk_sweep.runner import CaseFinished, CaseSubmitted, StatusObserved, SubmitStarted


def test_the_finished_records_are_the_full_replay_s_and_a_line_that_only_mentions_the_kind_is_not_one(tmp_path):
    journal = Journal(tmp_path)
    wrong = CaseRecord("c2", Outcome.ERROR, error='the service said "CaseFinished" in its message')
    for event in [SubmitStarted(t=0.0, key="c1", attempt=1), CaseSubmitted(t=0.1, key="c1", task_id="t1", latency=0.1),
                  SubmitStarted(t=0.2, key="c2", attempt=1),
                  StatusObserved(t=0.5, key="c2", status='"CaseFinished"', polls=1),  # names the kind, is not one
                  CaseFinished(t=1.0, key="c1", records=[CaseRecord("c1", Outcome.FAILED)]),
                  CaseFinished(t=1.5, key="c2", records=[wrong]),
                  CaseFinished(t=2.0, key="c1", records=[CaseRecord("c1", Outcome.PASSED)])]:  # a rerun: the last wins
        journal(event)
    journal.close()
    path = tmp_path / "journal.jsonl"
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"event":"CaseFinished","t":3.0,"key":"c3","rec')  # a writer killed mid-line
    assert len(list(read_journal(path))) == 7
    assert [e.key for e in read_journal(path, CaseFinished)] == ["c1", "c2", "c1"]
    assert finished_records(path) == replay(read_journal(path)).records
    assert [r.outcome for recs in finished_records(path).values() for r in recs] == [Outcome.PASSED, Outcome.ERROR]


def test_a_video_is_kept_once_by_its_content_and_a_failed_download_leaves_nothing(tmp_path, monkeypatch):
    import hashlib

    videos = tmp_path / "videos"
    body = [b"\x00\x00\x00\x18ftypmp42", b"moov" * 10]
    name = hashlib.sha256(b"".join(body)).hexdigest()[:16] + ".mp4"

    def keep(key: str) -> VideoSink:
        sink = VideoSink(videos, key)
        for chunk in body:
            sink.write(chunk)
        return sink

    first = keep("a")
    assert not videos.exists() or not any(videos.iterdir())  # a small video waits in memory
    assert first.close() == videos / name
    second = keep("b")
    assert second.close() == videos / name  # the same bytes: named, not written again
    assert sorted(p.name for p in videos.iterdir()) == [name]

    monkeypatch.setattr(VideoSink, "MEMORY", 8)  # a large one goes through a part file...
    spilled = keep("c")
    assert (videos / ".c.part").is_file()
    spilled.discard()  # ...which a failed download removes
    assert sorted(p.name for p in videos.iterdir()) == [name]
