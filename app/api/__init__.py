"""Every REST API, registered in one place."""


def register_apis(appbuilder) -> None:
    pass
