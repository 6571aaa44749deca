"""The grading engine: knows nothing about any exercise but its declaration.

Data flows one way, one package per part of the flow::

    grading.notebook  (read, validate)           -> Submission
    grading.kernel    (the whole notebook, in a sandboxed kernel)
    grading.requests + sandbox.runner            -> observations (plain data, sandbox.wire)
    grading.expected  (the reference, same path)  -> the reference's observations
    grading.compare   (in the grader's process)   -> verdicts
    grading.grade     (one submission)            -> report.SubmissionReport
    outputs.*         (text, JSON, pages, CSV, Gradescope, GitHub Classroom)

``spec`` is the declaration an exercise gives (plain data); ``probes`` is the one API that an
exercise's ``cases`` module uses inside the sandbox; ``config`` holds the names and numbers
more than one module needs; ``cli`` is the command line.
"""
