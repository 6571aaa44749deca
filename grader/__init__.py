"""The grading engine: knows nothing about any exercise.

Data flows one way, each stage a module:
``notebook`` (read/validate) -> ``kernel`` (execute the whole notebook) and ``sandbox``/``worker``
(run each item's cell with grader-controlled inputs) -> ``compare`` (check observations against
the reference's) -> ``report`` (aggregate and render). ``grade`` wires the stages for one
submission, ``batch`` for a class, ``cli`` is the command line.
"""
