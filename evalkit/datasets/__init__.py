"""Datasets: which clips get evaluated, with domain labels and checksums.

``load_dataset("default" | "folder:PATH[:DOMAIN]" | "manifest:FILE" | "NAME:ROOT")`` lists the
clips (never decoding audio: the worker reads it); ``evalkit datasets`` lists the loaders.
"""

from evalkit.datasets.base import Clip
from evalkit.datasets.catalog import list_datasets, load_dataset
from evalkit.datasets.dataset import Dataset, segment, select

__all__ = ["Clip", "Dataset", "list_datasets", "load_dataset", "segment", "select"]
