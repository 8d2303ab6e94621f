"""The desk's routes held to their own OpenAPI document (/api/v1/openapi.json) by schemathesis:
requests generated from the document, sent with a signed-in agent's session and CSRF token to
the real app on the real ACD and CRM, never get a 5xx and always get a response the document
describes (status, content type, body schema). Bounded: a few examples per operation."""
import asyncio

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 12  # per operation: the whole run takes a few seconds


def fuzz(doc: dict, base_url: str, cookie: str, csrf: str) -> tuple[list[str], dict[str, int]]:
    """Run every /desk/api operation's examples (blocking: in a worker thread, while the test's
    loop serves the app); returns the failures and the statuses seen."""
    schema = schemathesis.openapi.from_dict(doc).include(path_regex=r"^/desk/api/")
    session = requests.Session()
    session.cookies.set("ctigw_session", cookie)
    session.headers["X-CSRF-Token"] = csrf
    failures, statuses = [], {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 10, [op.label for op in operations]
    for operation in operations:
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(base_url=base_url, session=session, timeout=10)
            key = f"{operation.label} {response.status_code}"
            statuses[key] = statuses.get(key, 0) + 1
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:  # noqa: BLE001 - collected, reported together below
                failures.append(f"{operation.label}: {str(exc)[:400]}")

        run()
    return failures, statuses


async def test_the_desk_api_answers_as_its_openapi_document_says(desk_web):
    await desk_web.acd.login("1001")
    async with desk_web.client("ayse") as ayse:
        doc = (await ayse.get("/api/v1/openapi.json")).json()
        cookie, csrf = ayse.cookies["ctigw_session"], ayse.headers["X-CSRF-Token"]
        failures, statuses = await asyncio.to_thread(fuzz, doc, desk_web.web.url, cookie, csrf)
        assert failures == [], "\n".join(failures)
        assert not [k for k in statuses if k.endswith(tuple(f" 5{d:02d}" for d in range(100)))]
        # The session was used throughout: the generated requests were not all refused at the door.
        assert any(k.startswith("GET /desk/api/me 200") for k in statuses), statuses
        assert any(" 200" in k and k.startswith("GET /desk/api/customers/") for k in statuses) or \
            any(" 404" in k and k.startswith("GET /desk/api/customers/") for k in statuses), statuses
        assert (await ayse.get("/desk/api/me")).status_code == 200  # still signed in
