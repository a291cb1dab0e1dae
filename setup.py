"""The wheel's package list: evalkit's (several are namespace packages) plus the asset packages.

pyproject.toml cannot combine found packages with extra ones, so the list is built here. The asset
packages' folders (the repository's ``codecs/`` and ``datasets/default/``) and files are set in
pyproject.toml's ``[tool.setuptools.package-dir]`` and ``package-data``; see docs/packaging.md.
"""

from setuptools import find_namespace_packages, setup

ASSET_PACKAGES = ["evalkit._assets.codecs", "evalkit._assets.datasets.default"]

setup(packages=[*find_namespace_packages(include=["evalkit", "evalkit.*"]), *ASSET_PACKAGES])
