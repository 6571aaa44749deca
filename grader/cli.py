"""The command line: ``nngrade check | grade | validate | solution | export | release | new``.

A thin layer over the Python API. Exit codes (DESIGN.md): ``check`` 0 full marks, 1 points
lost, 2 could not be graded; ``grade`` 0 when every submission was graded, whatever the
scores, 2 when grading itself broke; ``validate`` 0 when every exercise validates.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

# jsonschema (imported by nbformat) builds rfc3987-syntax's grammar as it is imported, when
# that package is there (JupyterLab brings it): 3 s of every command's start for a format
# check ("iri") that no notebook schema asks for. The grader's process does without it.
if "rfc3987_syntax" not in sys.modules:
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]

# Every command imports what this module imports; what only some commands need (the kernel,
# nbformat under notebook and solution, a release, tqdm's bar) is imported by them, so that
# a re-run of stored grades (grade --out) loads no more than it uses.
from nngrade.config import ENV_KEEP_WARM  # noqa: E402
from nngrade.errors import NngradeError, SetupError  # noqa: E402
from nngrade.grader.grading import batch  # noqa: E402
from nngrade.grader.outputs import classroom  # noqa: E402
from nngrade.grader.outputs import gradescope  # noqa: E402
from nngrade.grader.sandbox import namespaces  # noqa: E402
from nngrade.grader.outputs import text  # noqa: E402
from nngrade.grader import report  # noqa: E402
from nngrade.grader.grading.grade import Grader, exercise_stem  # noqa: E402
from nngrade.grader.sandbox.limits import Limits  # noqa: E402
from nngrade.grader.grading.store import ResultStore  # noqa: E402
from nngrade.grader.grading import course as courses  # noqa: E402

if TYPE_CHECKING:
    from nngrade.grader.grading import public

EXIT_OK, EXIT_POINTS_LOST, EXIT_BROKEN = 0, 1, 2


def _add_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="cap on the run time of any one cell (default: each item's own "
                             "limit, and 60 s per cell of the notebook's own run)")


def _add_keep_warm(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep-warm", type=float, default=None, metavar="SECONDS",
                        help="keep the warm fork server (the exercise's libraries, imported) "
                             "for the next command, until SECONDS pass unused (also "
                             "$NNGRADE_KEEP_WARM; default: it ends with this command)")


def _add_course(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--course", metavar="PATH|NAME", default=None,
                        help="the course: a folder with exercises/ and reference/, or an "
                             f"installed course's name (default: ${courses.ENV_COURSE}, else "
                             "the built-in course)")


def _course(args: argparse.Namespace) -> courses.Course:
    return courses.select(getattr(args, "course", None))


def _grader(args: argparse.Namespace, private: Sequence[Path] = (),
            course: courses.Course | None = None) -> Grader:
    """A Grader for these options; ``private`` folders are hidden from student code."""
    return _grader_factory(args, private, course)()


def _grader_factory(args: argparse.Namespace, private: Sequence[Path] = (),
                    course: courses.Course | None = None) -> Callable[[], Grader]:
    """What builds the Grader for these options: picklable, so cluster workers build theirs
    with the same options."""
    hidden = tuple(str(p) for p in private)
    if args.timeout is None:
        return functools.partial(Grader, private=hidden, execute=args.execute, course=course)
    from nngrade.grader.grading import kernel

    return functools.partial(Grader, Limits(timeout=args.timeout),
                             kernel.KernelLimits(cell_timeout=args.timeout), private=hidden,
                             execute=args.execute, course=course)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nngrade", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="grade one notebook and explain every lost point")
    check.add_argument("notebook")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--gradescope", type=Path, metavar="FILE",
                       help="also write Gradescope's results.json to FILE")
    check.add_argument("--github-output", action="store_true",
                       help="also write the result for GitHub Classroom's grading reporter "
                            "to $GITHUB_OUTPUT (printed when it is not set)")
    _add_keep_warm(check)
    check.add_argument("--no-execute", dest="execute", action="store_false",
                       help="run the notebook as a whole only when a check needs what it "
                            "trained (faster; no report of which cells raise)")
    check.add_argument("--release", type=Path, metavar="DIR",
                       help="check with this student release's public checks only (default: "
                            "the course's reference where it is installed and knows the "
                            "notebook, else a release found at or above the notebook's folder)")
    _add_timeout(check)
    _add_course(check)

    grade = sub.add_parser("grade", help="grade a class: files, folders or globs")
    grade.add_argument("paths", nargs="+")
    grade.add_argument("--format", choices=("text", "json"), default="text")
    grade.add_argument("--out", type=Path, help="write the report, gradebook, feedback pages, "
                       "Gradescope results and class summary to this folder; a re-run grades "
                       "only what changed")
    grade.add_argument("--jobs", type=int, default=batch.default_jobs(),
                       help="submissions graded, and sandboxes run, at once (default: the "
                            "number of cores)")
    grade.add_argument("--quiet", action="store_true", help="no progress on stderr")
    grade.add_argument("--cluster", metavar="ADDRESS",
                       help="grade on a Dask cluster: a scheduler's tcp://HOST:8786, or local:N "
                            "for N worker processes on this machine (needs nngrade[cluster])")
    grade.add_argument("--regrade", action="store_true",
                       help="grade everything again, even what --out already holds")
    _add_keep_warm(grade)
    grade.add_argument("--execute", action="store_true",
                       help="run every notebook as a whole, even when no check needs it: the "
                            "feedback then says which cells raise, and --out keeps each "
                            "executed notebook under executed/ (default: only exercises "
                            "whose checks measure what the notebook trained)")
    _add_timeout(grade)
    _add_course(grade)

    validate = sub.add_parser("validate", help="self-test: reference full marks, blank zero")
    validate.add_argument("exercises", nargs="*", help="default: all of the course's")
    _add_course(validate)

    export = sub.add_parser("export", help="bundles for other graders")
    export.add_argument("target", choices=("gradescope",))
    export.add_argument("-o", "--output", type=Path, required=True)
    _add_course(export)

    sol = sub.add_parser("solution", help="write the notebook filled with the reference")
    sol.add_argument("exercise", help="e.g. 01_insurance_regression or 01")
    sol.add_argument("-o", "--output", type=Path, required=True)
    _add_course(sol)

    release = sub.add_parser("release", help="write what students get: blank notebooks, data "
                             "and the public checks, no reference")
    release.add_argument("exercises", nargs="*", help="default: all of the course's")
    release.add_argument("-o", "--output", type=Path, required=True)
    _add_course(release)

    new = sub.add_parser("new", help="write the skeleton of a new exercise into a course")
    new.add_argument("exercise", help="the notebook's stem, e.g. 01_scaling")
    new.add_argument("--course", type=Path, required=True, metavar="PATH",
                     help="the course folder (created if missing)")
    new.add_argument("--title", default="", help="the exercise's title")
    return parser


def _warn_protections(subs: Sequence[report.SubmissionReport]) -> None:
    missing = report.missing_protections(subs, namespaces.ALL)
    if missing:
        print("nngrade: warning: this machine did not allow these protections, so student code "
              "ran without them: " + "; ".join(missing), file=sys.stderr)


def _release_for(args: argparse.Namespace) -> public.Release | None:
    """The release to check with: the one given; else none where the course's reference is
    here and knows the notebook (the full check); else one found beside the notebook."""
    from nngrade.grader.grading import notebook, public

    if args.release is not None:
        return public.open_release(args.release)
    try:
        names = _course(args).exercise_names()
    except courses.CourseError:
        if args.course:
            raise
        names = None
    if names is not None:
        try:
            sub = notebook.read(args.notebook)
        except NngradeError:
            return None  # the full check says what is wrong with the file
        if exercise_stem(sub.exercise, sub.path, names) in names:
            return None
    found = public.find_release(args.notebook)
    if found is None and names is None:
        raise courses.CourseError("this installation of nngrade has no reference, and no "
                                  f"release ({public.MARKER}) is at or above "
                                  f"{Path(args.notebook).resolve().parent}: give --release DIR")
    return public.open_release(found) if found is not None else None


def _check(args: argparse.Namespace) -> int:
    release = _release_for(args)
    if release is not None:
        from nngrade.grader.grading import public

        result = public.grade(_grader(args), args.notebook, release)
    else:
        result = _grader(args, course=_course(args)).grade(args.notebook)
    _warn_protections([result])
    if args.format == "json":
        print(report.to_json(report.GradeReport((result,))))
    else:
        print(text.render_submission(result))
    if args.gradescope:
        args.gradescope.parent.mkdir(parents=True, exist_ok=True)
        args.gradescope.write_text(json.dumps(gradescope.results(result), indent=2))
    if args.github_output and classroom.write_output(result) is None:
        print(classroom.output_line(result))
    if result.errors:
        return EXIT_BROKEN
    return EXIT_OK if result.full_marks else EXIT_POINTS_LOST


class _NoBar:
    """What ``--quiet`` shows: nothing (and tqdm, 35 ms to import, is not loaded)."""

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass


def _progress_bar(total: int, quiet: bool) -> Any:
    """The progress bar on stderr, or none with ``--quiet``."""
    if quiet:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="notebook", file=sys.stderr, dynamic_ncols=True,
                desc="grading")


def _grade(args: argparse.Namespace) -> int:
    paths = batch.collect(args.paths, _course(args))
    if not paths:
        print("nngrade: no notebooks found in " + " ".join(args.paths), file=sys.stderr)
        return EXIT_BROKEN
    bar = _progress_bar(len(paths), args.quiet)
    failures = [0, 0]  # not gradable, lost points

    def progress(sub: report.SubmissionReport) -> None:
        failures[0] += bool(sub.errors)
        failures[1] += not sub.errors and not sub.full_marks
        bar.set_postfix_str(f"{failures[0]} not gradable, {failures[1]} lost points",
                            refresh=False)
        bar.update()

    store = ResultStore(args.out / "results") if args.out and not args.regrade else None
    private = [Path(p).resolve() for p in args.paths if Path(p).is_dir()]
    private += [t.path.resolve().parent for t in paths]
    if args.out:
        private.append(args.out.resolve())
    with bar:
        if args.cluster:
            from nngrade.grader.grading import cluster

            graded = cluster.grade_all(paths, address=args.cluster,
                                       factory=_grader_factory(args, private, _course(args)),
                                       store=store,
                                       progress=progress)
        else:
            graded = batch.grade_all(paths, jobs=args.jobs,
                                     grader=_grader(args, private, _course(args)),
                                     store=store, progress=progress)
    _warn_protections(graded.submissions)
    if args.out:
        from nngrade.grader.outputs import outdir  # feedback pages, plots: only when asked

        outdir.write(args.out, graded)
    if args.format == "json":
        print(report.to_json(graded))
    else:
        print(text.render_table(graded.submissions))
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from nngrade.grader.grading.validate import validate

    failed = False
    for outcome in validate(args.exercises or None, course=_course(args)):
        ref, blank = outcome.reports
        if outcome.failures:
            failed = True
            print(f"FAIL {outcome.exercise}")
            for failure in outcome.failures:
                print(f"     {failure}")
        else:
            print(f"ok   {outcome.exercise}: reference {ref.score:g}/{ref.max_score:g}, "
                  f"blank {blank.score:g}/{blank.max_score:g}, deterministic")
    return EXIT_POINTS_LOST if failed else EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from nngrade.grader.outputs.export import gradescope_bundle

    course = _course(args)
    folder = course.reference.parent if course.mounts else None  # a course outside
    print(f"wrote {gradescope_bundle(args.output, folder)}")
    return EXIT_OK


def _solution(args: argparse.Namespace) -> int:
    from nngrade.grader.grading import solution

    path = solution.write_solution(_course(args).load_exercise(args.exercise), args.output)
    print(f"wrote {path}")
    return EXIT_OK


def _release(args: argparse.Namespace) -> int:
    from nngrade.grader.grading import release

    out = release.write(_course(args), args.output, args.exercises or None)
    print(f"wrote the release {out}")
    return EXIT_OK


def _new(args: argparse.Namespace) -> int:
    from nngrade.grader.authoring import skeleton

    for path in skeleton.write(args.course, args.exercise, args.title):
        print(f"wrote {path}")
    print(f"next: nngrade validate --course {args.course}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    if getattr(args, "keep_warm", None) is not None:
        # read by the sandbox's runner when it starts its fork server (sandbox.resident)
        os.environ[ENV_KEEP_WARM] = str(args.keep_warm)
    commands = {"check": _check, "grade": _grade, "validate": _validate, "solution": _solution,
                "export": _export, "release": _release, "new": _new}
    try:
        return commands[args.command](args)
    except SetupError as exc:
        print(f"nngrade: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    except NngradeError as exc:
        print(f"nngrade: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    except KeyboardInterrupt:
        print("\nnngrade: interrupted", file=sys.stderr)
        return 130
