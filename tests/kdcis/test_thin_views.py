"""No view is over 30 lines: a view parses the request, calls a service or a selector, and
renders or redirects. Validation belongs in forms, context-building in helpers or selectors."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 30  # from the `def` line to the last line, docstring included


def functions_in_views_modules() -> dict[str, int]:
    """Every function and method of the apps' views modules (*/*views*.py), nested ones
    included, with its length in lines."""
    lengths = {}
    for path in sorted(ROOT.glob("*/*views*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                where = f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
                lengths[where] = node.end_lineno - node.lineno + 1
    return lengths


def test_no_view_is_over_thirty_lines():
    lengths = functions_in_views_modules()
    names = {where.split()[-1] for where in lengths}
    # The scan sees the views it is about (a moved module would otherwise pass unread).
    assert {"signup_profile", "login_view", "approval_queue", "helpdesk_user"} <= names
    too_long = {where: n for where, n in lengths.items() if n > MAX_LINES}
    assert not too_long, f"views over {MAX_LINES} lines: {too_long}"
