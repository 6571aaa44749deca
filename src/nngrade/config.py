"""Names and numbers that more than one part of nngrade relies on, written down once.

Environment variables, the notebook metadata key of the contract (DESIGN.md), the torch pin
of the bundles nngrade writes, and how much of a message or an answer is kept.
"""

from __future__ import annotations

# --- environment variables -------------------------------------------------------------------
ENV_DATA_DIR = "NNGRADE_DATA_DIR"  # a folder that holds the data files (overrides the cache)
ENV_CACHE_DIR = "NNGRADE_CACHE_DIR"  # root of nngrade's caches (data, reference observations)
ENV_OFFLINE = "NNGRADE_OFFLINE"  # set: never download (the grader sets it for student code)
ENV_KEEP_WARM = "NNGRADE_KEEP_WARM"  # seconds a kept fork server waits unused (--keep-warm)
ENV_RUNTIME_DIR = "NNGRADE_RUNTIME_DIR"  # where kept servers' addresses are (default: per user)
APP_NAME = "nngrade"  # the folder name of the user cache (platformdirs)

# --- the notebook contract ---------------------------------------------------------------------
METADATA_KEY = "nngrade"  # notebook.metadata.nngrade.exercise, cell.metadata.nngrade.item

# --- pins ----------------------------------------------------------------------------------
TORCH_PIN = "torch==2.13.0"  # the CPU build; constraints.txt pins the same

# --- how much is kept ------------------------------------------------------------------------
MESSAGE_CHARS = 300  # of one exception message shown to a student
PROBLEM_CHARS = 200  # of a schema or start-up problem quoted in a report
ANSWER_CHARS = 20_000  # of one free-text answer collected for manual review
PROTECTIONS_BYTES = 4096  # of the kernel's report of its protections
FIGURE_KEY = "__figure__"  # where a probe's observation carries the PNG of the cell's figure
FIGURE_BYTES = 400_000  # of that PNG: a larger one is left out of the review, not the grade
