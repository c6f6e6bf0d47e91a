"""The project package `kdcis` (settings, audit, SMS, limits, the admin site) imports none of
the apps: the apps build on it, so a change inside an app never reaches the shared parts."""

from __future__ import annotations

import ast
from pathlib import Path

import kdcis

APPS = {"accounts", "institutions", "permissions"}
# The URL configuration and the settings name the apps by string only (include(), INSTALLED_APPS).


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_the_kdcis_package_imports_no_app():
    root = Path(kdcis.__file__).parent
    offenders = {
        str(path.relative_to(root)): sorted(m for m in _imported_modules(path)
                                            if m.split(".")[0] in APPS)
        for path in root.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from accounts.services import login_failed\n",
                      encoding="utf-8")
    assert "accounts.services" in _imported_modules(module)
