"""The one build step pyproject.toml cannot say: the wheel carries the firmware, the board files and the example
scenarios.

They live beside the host package in the source tree (``firmware/``, ``boards/``, ``tools/scenarios/``), outside
``host/``. ``build_py`` copies each tree named in ``fieldnode.paths.SHIPPED`` into the package as
``fieldnode/_data/<name>/`` (where ``paths.data_dir`` finds it once installed), and lists it as a source so that the
sdist holds it too and a wheel built from the sdist is the same. An editable install reads the source tree itself.
"""

import importlib.util
import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def _shipped() -> dict:
    """SHIPPED from host/fieldnode/paths.py, read without importing the package."""
    spec = importlib.util.spec_from_file_location("_fieldnode_paths", os.path.join("host", "fieldnode", "paths.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.SHIPPED


def _tree(root: str) -> list[Path]:
    """Every file under ``root`` but bytecode, as paths relative to the project directory."""
    return sorted(p for p in Path(root).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"))


class BuildPyWithData(build_py):
    def _data_target(self) -> str:
        return os.path.join(self.build_lib, "fieldnode", "_data")

    def _shipped_files(self) -> list[tuple[str, str]]:
        """(source, destination) for each file the package carries from outside host/."""
        return [(str(src), os.path.join(self._data_target(), name, *src.relative_to(root).parts))
                for name, root in _shipped().items() for src in _tree(root)]

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        shutil.rmtree(self._data_target(), ignore_errors=True)  # no file left over from an earlier build
        for src, dst in self._shipped_files():
            self.mkpath(os.path.dirname(dst))
            self.copy_file(src, dst)

    def get_outputs(self, include_bytecode=True):
        outs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outs
        return outs + [dst for _, dst in self._shipped_files()]

    def get_source_files(self):
        return super().get_source_files() + [src for src, _ in self._shipped_files()]


setup(cmdclass={"build_py": BuildPyWithData})
