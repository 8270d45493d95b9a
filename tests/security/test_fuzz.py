"""Property-based: arbitrary JSON values, deep nesting, odd Unicode (lone surrogates included) and raw bytes sent to
every state-changing endpoint (tests/security/endpoints.py) as a signed-in user allowed to use it: never a 5xx, and
no job input kills a worker. A fixed example budget keeps the whole module under a minute."""

from __future__ import annotations

import json
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as budget
from hypothesis import strategies as st

from jobs.models import JobRun
from tests.jobs.conftest import run_worker  # noqa: F401  (a fixture)
from tests.security.endpoints import STATE_CHANGING, Endpoint

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = 40  # per endpoint and body kind
BUDGET = budget(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Any code point, lone surrogates (category Cs) and controls included.
odd_text = st.text(alphabet=st.characters(codec=None, categories=None), max_size=40)
leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text
json_values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4), max_leaves=25
)
depths = st.integers(min_value=1, max_value=60_000)


def deep(depth: int, kind: int) -> str:
    opener, closer = [("[", "]"), ('{"a":', "}"), ('{"text":[', "]}")][kind]
    return opener * depth + "0" + closer * depth


def as_json(value) -> bytes:
    # ensure_ascii writes lone surrogates as \\udXXX escapes (valid JSON text, invalid Unicode).
    return json.dumps(value, ensure_ascii=True).encode()


json_bodies = st.one_of(
    json_values.map(as_json),
    st.builds(lambda d, k: deep(d, k).encode(), depths, st.integers(0, 2)),
    st.binary(max_size=300),
)
form_bodies = st.dictionaries(st.binary(max_size=12), st.binary(max_size=60), max_size=6).map(
    lambda fields: b"&".join(
        quote_from_bytes(k).encode() + b"=" + quote_from_bytes(v).encode() for k, v in fields.items()
    )
)


def who_and_call(endpoint: Endpoint):
    if endpoint.allowed:
        who, call, _ = endpoint.allowed[0]
        return who, call
    return None, endpoint.anonymous[0][0]


@pytest.fixture
def generous_limits(settings):
    settings.CHAT_POST_RATE = settings.LEDGER_TRANSFER_RATE = settings.JOBS_ENQUEUE_RATE = 100_000
    settings.JOBS_ACTION_RATE = 100_000
    settings.JOBS_USER_MAX_ACTIVE = None  # the enqueue endpoint's answers are not all 429
    settings.SWITCHBOARD_LOGIN_FAILURES_PER_USER = settings.SWITCHBOARD_LOGIN_FAILURES_PER_ADDRESS = 100_000


def post(client, url: str, body: bytes, content_type: str):
    return client.generic("POST", url, body, content_type=content_type, HTTP_ACCEPT="application/json")


@pytest.mark.parametrize("endpoint", STATE_CHANGING, ids=[e.name for e in STATE_CHANGING])
def test_no_body_gets_a_5xx(client, site, generous_limits, endpoint):
    who, call = who_and_call(endpoint)
    if who:
        client.force_login(getattr(site, who))
    url = call.url(site)
    valid = call.data(site)

    @BUDGET
    @given(body=json_bodies, value=json_values, key=st.sampled_from([*valid, "extra"]))
    def hostile_json(body, value, key):
        for sent in (body, as_json({**valid, key: value})):
            response = post(client, url, sent, "application/json")
            assert response.status_code < 500, (sent[:200], response.content[:300])

    @BUDGET
    @given(body=form_bodies)
    def hostile_form(body):
        response = post(client, url, body, "application/x-www-form-urlencoded")
        assert response.status_code < 500, (body[:200], response.content[:300])

    hostile_json()
    hostile_form()


def test_no_job_input_kills_a_work_horse(client, site, generous_limits, run_worker):  # noqa: F811
    client.force_login(site.alice)
    accepted: list[str] = []

    @budget(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(message=odd_text)
    def enqueue_fail(message):
        body = as_json({"params": {"message": message}})
        response = post(client, "/jobs/fail/enqueue", body, "application/json")
        assert response.status_code < 500
        if response.status_code == 201:
            accepted.append(response.json()["id"])

    enqueue_fail()
    assert accepted, "no message was accepted: the property says nothing"
    done = run_worker("default", simple=False)  # a forking worker: each job in a work horse of its own
    assert "Work-horse terminated unexpectedly" not in done.stderr
    from jobs.history import history_sync

    history_sync()
    runs = JobRun.objects.filter(job_id__in=accepted)
    assert runs.count() == len(accepted)
    for run in runs:
        assert run.status == "failed" and "RuntimeError" in run.error + run.traceback, (run.arguments, run.error)
