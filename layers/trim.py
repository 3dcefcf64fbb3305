"""Remove what the Lambda runtime never loads from a pip-installed dependency tree.

The rules are deliberately few and each one names a kind of file that is only
used to build, test or type-check a package, never to run it. The guard is
``tests/integration/test_packages.py``: every module left in the layer must
import, except for a missing optional dependency we do not ship (matplotlib,
pyarrow, ...); the numbers and the evidence are in ``layers/README.md``.

Kept on purpose: every scipy subpackage (pandas and scikit-learn import
scipy.signal, scipy.cluster and others lazily, inside functions), ``numpy/f2py``
(named in ``numpy.__all__``), ``numpy/testing`` and ``pandas/_testing`` (imported
by the packages themselves), scikit-learn's toy data sets, the ``*.dist-info``
folders (licences must travel with the binaries; ``importlib.metadata`` reads
them).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from layers.elf import is_elf, strip_extension

# Directories whose whole content is test suites, test data or compiled caches.
DROP_DIRS = frozenset({"tests", "test", "__pycache__"})
# Top-level entries pip --target writes that only make sense on the build host.
DROP_TOP = frozenset({"bin"})
# Sources, headers, static libraries, templates and stubs: compile/type-check time only.
DROP_SUFFIXES = frozenset(
    {".pyx", ".pxd", ".pxi", ".c", ".cc", ".cpp", ".h", ".hpp", ".tp", ".a", ".pyi"}
)
DROP_NAMES = frozenset({"meson.build"})
# Build and test tooling inside packages (numpy's own PyInstaller hook excludes
# distutils for the same reason), and pip's install record, which lists the
# untrimmed files and is read only by ``pip uninstall``. numpy/f2py stays: it is
# in ``numpy.__all__``, and scipy does ``from numpy import *``.
DROP_GLOBS = (
    "numpy/distutils",
    "numpy/f2py/_backends/_distutils.py",  # f2py's backend built on numpy.distutils
    "numpy/_pyinstaller",
    "numpy/random/_examples",
    "numpy/_core/_simd.*.so",  # SIMD intrinsics test module, 2.9 MB
    "scipy/special/_precompute",  # scripts that regenerate tables from the test suite
    "sklearn/_build_utils",
    "sklearn/datasets/images/*.jpg",  # load_sample_images needs Pillow, not shipped
    "*.dist-info/RECORD",
)
# Files inside test folders that library code imports at run time.
KEEP_FILES = frozenset({"numpy/_core/tests/_natype.py"})  # numpy.testing needs pd_NA


@dataclass
class TrimReport:
    """What trimming removed, for the build log and the README numbers."""

    removed_bytes: int = 0
    removed_files: int = 0
    stripped_bytes: int = 0
    stripped_files: int = 0
    kept_unstripped: list[str] = field(default_factory=list)


def _is_vendored_library(path: Path, root: Path) -> bool:
    """auditwheel's ``<dist>.libs`` folders: patchelf-edited, must stay byte-identical."""
    return path.relative_to(root).parts[0].endswith(".libs")


def _droppable(relative: Path) -> bool:
    if relative.as_posix() in KEEP_FILES:
        return False
    if relative.parts[0] in DROP_TOP or DROP_DIRS.intersection(relative.parts[:-1]):
        return True
    name = relative.as_posix()
    if any(fnmatch(name, pattern) or fnmatch(name, pattern + "/*") for pattern in DROP_GLOBS):
        return True
    return relative.suffix in DROP_SUFFIXES or relative.name in DROP_NAMES


def trim_tree(root: Path) -> TrimReport:
    """Trim ``root`` (a ``pip install --target`` directory) in place."""
    report = TrimReport()
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        if _droppable(path.relative_to(root)):
            report.removed_bytes += path.lstat().st_size
            report.removed_files += 1
            path.unlink()
    for directory in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    _strip_extensions(root, report)
    return report


def _strip_extensions(root: Path, report: TrimReport) -> None:
    if shutil.which("strip") is None:
        raise RuntimeError(
            "`strip` (GNU binutils) is needed to build the layer: apt-get install binutils"
        )
    for path in sorted(root.rglob("*.so*")):
        if not path.is_file() or _is_vendored_library(path, root) or not is_elf(path):
            continue
        saved = strip_extension(path)
        if saved is None:
            report.kept_unstripped.append(str(path.relative_to(root)))
        elif saved > 0:
            report.stripped_bytes += saved
            report.stripped_files += 1
