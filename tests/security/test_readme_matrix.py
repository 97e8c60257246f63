"""README's roles table is the code's ROLE_MATRIX, and roles in the database hold exactly it."""
import re
from pathlib import Path

from app.security.roles import ADMIN, ROLES, matrix_markdown, permissions_for

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_matrix_is_the_code_matrix():
    text = README.read_text()
    block = re.search(r"<!-- roles-matrix:start -->\n(.*?)\n<!-- roles-matrix:end -->", text, re.S)
    assert block, "README lost its roles matrix markers"
    assert block.group(1).strip() == matrix_markdown().strip()


def test_synced_roles_hold_exactly_the_matrix(app):
    sm = app.appbuilder.sm
    for name in ROLES:
        if name == ADMIN:
            continue
        role = sm.find_role(name)
        held = {(pv.permission.name, pv.view_menu.name) for pv in role.permissions
                if pv.permission.name != "menu_access"}
        assert held == set(permissions_for(name)), name
