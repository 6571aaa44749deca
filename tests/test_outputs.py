"""What `grade --out` writes: gradebook, feedback pages, Gradescope results, summary; and the
store that lets a re-run grade only what changed."""

import csv
import io
import os
from pathlib import Path

import pytest

from nngrade.grader.grading import batch
from nngrade.grader.outputs import feedback
from nngrade.grader.outputs import gradebook
from nngrade.grader.outputs import gradescope
from nngrade.grader.outputs import outdir
from nngrade.grader.outputs import summary
from nngrade.grader.report import GradeReport, ItemResult, SubmissionReport
from nngrade.grader.grading.store import ResultStore


def _sub(student, scores, errors=(), manual=""):
    items = [ItemResult(f"ex.item{i}", s, 1.0, "passed" if s else "failed",
                        "" if s else f"item {i}: expected 1, found <b>2</b>", "look at it")
             for i, s in enumerate(scores)]
    if manual:
        items.append(ItemResult("ex.why", 0.0, 0.0, "manual", "collected", answer=manual))
    return SubmissionReport(f"{student}/ex.ipynb", None if errors else "ex", sum(scores),
                            0.0 if errors else float(len(scores)), () if errors else tuple(items),
                            tuple(errors), (), ("cell 3 raised NameError: x",), 1.0, student)


CLASS = [_sub("ann", [1, 1]), _sub("ben", [1, 0], manual="Because ReLU's slope is 1."),
         _sub("cy", [], errors=["the file is not valid JSON"])]


def test_gradebook_has_one_row_per_student_and_one_column_per_item():
    rows = list(csv.DictReader(io.StringIO(gradebook.to_csv(CLASS))))
    assert [r["student"] for r in rows] == ["ann", "ben", "cy"]
    assert list(rows[0]) == ["student", "ex.item0", "ex.item1", "total", "max_score", "not_graded"]
    assert (rows[1]["ex.item1"], rows[1]["total"], rows[1]["max_score"]) == ("0", "1", "2")
    assert rows[2]["not_graded"] == "the file is not valid JSON"


def test_gradescope_results_follow_the_schema_and_never_read_all_passed_on_a_failure():
    doc = gradescope.results(CLASS[1])
    assert doc["score"] == 1
    assert [t["status"] for t in doc["tests"]] == ["passed", "failed"]
    for test in doc["tests"]:
        assert {"name", "number", "score", "max_score", "status", "output", "visibility"} <= set(test)
    assert "Hint: look at it" in doc["tests"][1]["output"]
    assert gradescope.results(CLASS[2])["tests"] == []


def test_feedback_pages_show_points_reasons_hints_and_escape_student_text():
    page = feedback.html(CLASS[1])
    assert "Points: 1 / 2" in page and "look at it" in page
    assert "<b>2</b>" not in page and "&lt;b&gt;2&lt;/b&gt;" in page
    assert "Because ReLU" in page
    md = feedback.markdown(CLASS[1])
    assert "## `ex.item1`: failed" in md and "cell 3 raised NameError" in md
    assert "could not be graded" in feedback.markdown(CLASS[2])


def test_summary_gives_pass_rates_histogram_and_manual_answers(tmp_path):
    assert summary.pass_rates(CLASS) == {"ex.item0": (2, 2), "ex.item1": (1, 2)}
    assert summary.histogram(CLASS, tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    assert "### ben" in summary.manual_answers(CLASS)


def test_the_histogram_is_drawn_again_only_when_the_scores_change(tmp_path):
    png = tmp_path / "h.png"
    assert summary.histogram(CLASS, png)
    os.utime(png, ns=(1, 1))  # a time no drawing could leave
    assert summary.histogram(list(reversed(CLASS)), png)  # the same scores: kept as it is
    assert png.stat().st_mtime_ns == 1
    assert summary.histogram([*CLASS, _sub("dee", [0, 0])], png)  # another class: drawn
    assert png.stat().st_mtime_ns != 1
    os.utime(png, ns=(1, 1))
    png.write_bytes(png.read_bytes()[:-200])  # a file cut short is drawn again
    assert summary.histogram([*CLASS, _sub("dee", [0, 0])], png)
    assert png.read_bytes().endswith(b"IEND\xaeB`\x82")


def test_out_dir_holds_every_rendering(tmp_path):
    outdir.write(tmp_path, GradeReport(tuple(CLASS)))
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"report.json", "gradebook.csv", "summary.md", "scores.png", "manual.md",
            "feedback/ben-ex.html", "feedback/ben-ex.md",
            "gradescope/ben-ex/results.json"} <= names


class CountingGrader:
    """Stands in for Grader: counts the notebooks it was asked to grade."""

    execute = False

    def __init__(self):
        self.graded = []

    def version_of(self, data, path):
        return "v1"

    def exercise_of(self, data, path):
        return None

    def prepare(self, stems, submissions=0):
        pass

    def close(self):
        pass

    def grade(self, path):
        self.graded.append(Path(path).parent.name)
        return SubmissionReport(str(path), "ex", 1.0, 1.0)


def test_a_rerun_grades_only_what_changed(tmp_path):
    for who in ("ann", "ben"):
        (tmp_path / "class" / who).mkdir(parents=True)
        (tmp_path / "class" / who / "ex.ipynb").write_text(f'{{"who": "{who}"}}')
    targets = batch.collect([str(tmp_path / "class")])
    store, grader = ResultStore(tmp_path / "results"), CountingGrader()
    batch.grade_all(targets, grader=grader, store=store)
    (tmp_path / "class" / "ben" / "ex.ipynb").write_text('{"who": "ben", "v": 2}')
    again = batch.grade_all(targets, grader=grader, store=store)
    assert grader.graded == ["ann", "ben", "ben"]
    assert [s.student for s in again.submissions] == ["ann", "ben"]


class InterruptedGrader(CountingGrader):
    """Ctrl-C arrives while grading ``stop_at``."""

    def __init__(self, stop_at):
        super().__init__()
        self.stop_at = stop_at

    def grade(self, path):
        if Path(path).parent.name == self.stop_at:
            raise KeyboardInterrupt
        return super().grade(path)


def test_an_interrupted_run_resumes_without_losing_finished_grades(tmp_path):
    for who in ("ann", "ben", "cy"):
        (tmp_path / "class" / who).mkdir(parents=True)
        (tmp_path / "class" / who / "ex.ipynb").write_text(f'{{"who": "{who}"}}')
    targets = batch.collect([str(tmp_path / "class")])
    store = ResultStore(tmp_path / "results")
    first = InterruptedGrader(stop_at="ben")
    with pytest.raises(KeyboardInterrupt):
        batch.grade_all(targets, grader=first, store=store)
    assert first.graded[0] == "ann" and "ben" not in first.graded
    resumed = CountingGrader()
    report = batch.grade_all(targets, grader=resumed, store=store)
    # every grade finished before the interrupt was kept; only the rest is graded now
    assert resumed.graded == [w for w in ("ann", "ben", "cy") if w not in first.graded]
    assert [s.student for s in report.submissions] == ["ann", "ben", "cy"]


def test_a_damaged_stored_result_is_graded_again(tmp_path):
    store = ResultStore(tmp_path)
    store.save("k", SubmissionReport("a.ipynb", "ex", 1.0, 2.0))
    assert store.load("k").score == 1.0
    (tmp_path / "k.json").write_text("{half a fi")
    assert store.load("k") is None
    assert not list(tmp_path.glob("*.tmp"))


def test_a_feedback_page_is_rendered_again_only_when_what_it_shows_changes(tmp_path):
    import dataclasses

    outdir.write(tmp_path, GradeReport(tuple(CLASS)))
    page = tmp_path / "feedback" / "ben-ex.html"
    os.utime(page, ns=(1, 1))  # a time no rendering could leave
    slower = dataclasses.replace(CLASS[1], seconds=9.0, timings={"items": 8.0})
    outdir.write(tmp_path, GradeReport((CLASS[0], slower, CLASS[2])))
    assert page.stat().st_mtime_ns == 1  # kept: the page shows no seconds
    assert not any(f"sub.{name}" in feedback._MARKDOWN + feedback._HTML
                   for name in feedback._NOT_SHOWN)
    lower = dataclasses.replace(CLASS[1], score=0.0)
    outdir.write(tmp_path, GradeReport((CLASS[0], lower, CLASS[2])))
    assert page.stat().st_mtime_ns != 1
    assert page.read_text() == feedback.html(lower) and "Points: 0 / 2" in page.read_text()
    page.write_text(page.read_text()[:-40])  # a page cut short is rendered again
    outdir.write(tmp_path, GradeReport((CLASS[0], lower, CLASS[2])))
    assert page.read_text() == feedback.html(lower)
