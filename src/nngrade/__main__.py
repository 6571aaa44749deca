"""``python -m nngrade``: the same command line as ``nngrade``."""

from nngrade.grader.cli import main

raise SystemExit(main())
