"""The route request the IVR hands the ACD: one value, checked where it is made."""
import pytest

from gateway.routing import RouteRequest


def test_a_route_request_is_normalised_so_equal_routes_compare_equal():
    route = RouteRequest(" billing ", ["billing"], " TR ", 2)
    assert route == RouteRequest("billing", ("billing",), "tr", 2)
    assert RouteRequest("general", "general").skills == ("general",)
    assert RouteRequest("general", language="").language is None


@pytest.mark.parametrize("kwargs, message", [
    ({"queue": ""}, "queue must be a queue name, got ''"),
    ({"queue": None}, "queue must be a queue name, got None"),
    ({"queue": "q", "skills": ["billing", 3]}, "skills must be skill names"),
    ({"queue": "q", "skills": {"billing": 3}}, "skills must be skill names"),
    ({"queue": "q", "language": 7}, "language must be a language code, got 7"),
    ({"queue": "q", "priority": "high"}, "priority must be a number, got 'high'"),
    ({"queue": "q", "priority": True}, "priority must be a number, got True"),
])
def test_a_bad_route_request_fails_where_it_is_made(kwargs, message):
    with pytest.raises(ValueError, match="route request: " + message.replace("(", r"\(").replace("[", r"\[")):
        RouteRequest(**kwargs)
