"""The data registry and loader: ``load_insurance()`` for the exercises, ``data_path()`` for
any registered file, ``DATA_FILES`` for what is registered. See ``loader`` for where files are
looked for and how ``NNGRADE_DATA_DIR``, ``NNGRADE_CACHE_DIR`` and ``NNGRADE_OFFLINE`` apply."""

from .loader import data_path, load_insurance
from .registry import DATA_FILES, DataFile

__all__ = ["DATA_FILES", "DataFile", "data_path", "load_insurance"]
