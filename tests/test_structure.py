"""The code's two structural rules (docs/architecture.md): no private name imported
across modules, no import circle. scripts/check_structure.py reads the source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["commitments", "tracker", "accounts", "tests"]


def test_no_private_imports_and_no_import_circles():
    result = subprocess.run(
        [
            sys.executable,
            "scripts/check_structure.py",
            "commitments",
            "tracker",
            "accounts",
            "tests",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == "ok", result.stdout
    assert result.returncode == 0


def test_the_checker_finds_a_circle_and_a_private_import(tmp_path, monkeypatch):
    """The check can fail: a two-module package that breaks both rules is reported."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import check_structure
    finally:
        sys.path.pop(0)
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import _hidden\n")
    (pkg / "b.py").write_text("from . import a\n_hidden = 1\n")
    monkeypatch.setattr(check_structure, "ROOT", tmp_path)
    assert check_structure.main(["pkg"]) == 1
