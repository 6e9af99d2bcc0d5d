"""Reading a journal back: every event, or only the finished cases' records without decoding the rest."""

from __future__ import annotations

from navtalk_sweep.record import CaseRecord, Outcome
from navtalk_sweep.results import Journal, finished_records, read_journal, replay
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
