"""The grading core: from a notebook file to a ``SubmissionReport``.

``notebook`` reads and validates a file; ``kernel`` runs the whole notebook in a sandboxed
kernel; ``requests`` turns an item's case into a sandbox request; ``expected`` computes (and
caches) the reference's observations through the same path; ``compare`` checks a student's
observation against the reference's; ``grade`` wires these for one submission, ``batch`` for
a class, with ``store`` keeping finished grades. ``validate`` and ``solution`` serve the
instructor.
"""
