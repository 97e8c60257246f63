"""marshmallow schemas of the REST API: what each action endpoint accepts (``*In``,
types and unknown fields only — the services do the business validation) and the
hand-written output shapes of detail views (``*Out``)."""
