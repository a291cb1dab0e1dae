"""The wheel's package list, and the data-only asset packages in it (see docs/packaging.md).

pyproject.toml cannot combine discovered packages with extra ones, so the list is built here; the
asset packages' folders and files are set in pyproject.toml (``[tool.setuptools.package-dir]`` and
``package-data``). An asset package ships only those files: setuptools would also ship every
``.py`` of its folder, and ``codecs/rvq/prepare_data.py`` is a training script, not library code.
"""

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

ASSET_PACKAGES = ["evalkit._assets.codecs.rvq", "evalkit._assets.datasets.default"]


class BuildPy(build_py):
    def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
        if package in ASSET_PACKAGES:
            return []
        return super().find_package_modules(package, package_dir)


setup(
    packages=[*find_namespace_packages(include=["evalkit", "evalkit.*"]), *ASSET_PACKAGES],
    cmdclass={"build_py": BuildPy},
)
