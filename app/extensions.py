"""Process-wide extension singletons.

Only objects that are safe to share between several apps in one process live here
(FAB_NOTES 3.1): the AppBuilder itself is created per app in ``create_app``.
"""
from flask_appbuilder import Model

# Set before any table is declared (FAB's ab_* tables included) so every constraint
# gets a stable name that Alembic can drop and recreate, also in SQLite batch mode.
Model.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

from flask_appbuilder.models.sqla.base import SQLA  # noqa: E402
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

# model_class=Model: one metadata for FAB's ab_* tables and ours, so Alembic sees both.
db = SQLA(model_class=Model)
csrf = CSRFProtect()
migrate = Migrate()
