"""The data files the exercises use, each pinned by its sha256.

The checksum is the identity of a file: a copy found anywhere (a shared folder, the user cache,
a fresh download) is used only if its sha256 matches, so every student and the grader see the
same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataFile:
    """One data file: where it comes from, what it must hash to, and what it holds."""

    name: str
    filename: str
    sha256: str
    url: str
    licence: str
    rows: int
    description: str


DATA_FILES: dict[str, DataFile] = {
    "insurance": DataFile(
        name="insurance",
        filename="insurance.csv",
        sha256="505c1cbc2e63d0363bac59501563df2530aadf4cdb9cfee226f4ef32f5468281",
        url=(
            "https://raw.githubusercontent.com/stedy/Machine-Learning-with-R-datasets/"
            "master/insurance.csv"
        ),
        licence="public domain, per the source repository's README",
        rows=1338,
        description=(
            "US medical insurance charges, one row per person, with columns "
            "age, sex, bmi, children, smoker, region, charges."
        ),
    ),
}
