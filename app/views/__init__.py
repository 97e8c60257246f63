"""Every HTML view, registered in menu order (Superset's explicit registration)."""


def register_views(appbuilder) -> None:
    pass
