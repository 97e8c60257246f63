"""Two API schemas with one component name would make the spec show one of them for both
(it did: the stock receipt's and the return's ReceiveIn): refused when the second is defined."""
import pytest

from app.api.schemas.common import InSchema


def test_a_second_schema_with_a_taken_component_name_is_refused():
    with pytest.raises(TypeError, match="two API schemas named HoldIn"):
        type("HoldInSchema", (InSchema,), {"__module__": "tests.elsewhere"})
