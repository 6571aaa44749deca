"""Everything that runs untrusted code, and its protections.

``runner`` (the grader's side) forks a child from the warm fork server (``warm``) and reads
its result; ``child`` is what runs inside it: limits (``limits``), namespaces and the view of
the file system (``namespaces``), the system-call filter (``syscalls``), then the cell and
its probe. ``kernel_launch`` starts the notebook's own kernel under the same protections.
``wire`` is the only format that crosses the process boundary: plain data, never pickles.

This package imports nothing of ``grading`` or ``outputs``: it does not know what a grade is.
"""
