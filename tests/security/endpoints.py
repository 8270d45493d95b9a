"""Every endpoint of the site by URL name: the read-only ones, and the table of state-changing ones.

tests/security/test_urlconf.py fails when the URLconf gains a name that is in neither list, so a new
POST endpoint cannot appear without a row here (and so without the permission, CSRF and body-size
tests that run over this table).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

# Pages and APIs that only read: any other method than GET/HEAD is refused with 405.
READ_ONLY = {
    "home": {},
    "health": {},
    "ops": {},  # staff only; a GET may publish the ops board's first value (no user state changes)
    "chat:index": None,  # GET lists rooms; its POST (room creation) is in STATE_CHANGING
    "chat:room": {"slug": "x"},
    "chat:messages": None,  # GET reads history; POST posts (in STATE_CHANGING)
    "chat:stream": {"slug": "x"},
    "chat:poll": {"slug": "x"},
    "boards:index": {},
    "boards:board": {"name": "x"},
    "boards:watch": {"name": "x"},
    "boards:stream": {"name": "x"},
    "jobs:index": {},
    "jobs:run": {"job_id": "x"},
    "jobs:run_json": {"job_id": "x"},
    "ledger:index": {},
    "ledger:account": {"name": "x"},
    # The JSON API (switchboard.api): the schema, the docs page and every read operation of the four routers.
    "switchboard-api:openapi-json": {},
    "switchboard-api:openapi-view": {},
    "switchboard-api:api-root": None,  # /api/ itself: a JSON 404 to any method
    "switchboard-api:not-found": None,  # any method: a JSON 404
    "switchboard-api:rooms_list": {},
    "switchboard-api:room_detail": {"slug": "x"},
    "switchboard-api:messages_list": None,  # GET reads; POST posts (message_create, in STATE_CHANGING)
    "switchboard-api:messages_poll": {"slug": "x"},
    "switchboard-api:messages_stream": {"slug": "x"},
    "switchboard-api:boards_list": {},
    "switchboard-api:board_detail": {"name": "x"},
    "switchboard-api:watch": {"name": "x"},
    "switchboard-api:stream": {"name": "x"},
    "switchboard-api:catalog": {},
    "switchboard-api:runs_list": {},
    "switchboard-api:run_detail": {"job_id": "x"},
    "switchboard-api:accounts_list": {},
    "switchboard-api:account_detail": {"name": "x"},
    "switchboard-api:account_transfers": {"name": "x"},
    "switchboard-api:transfer_detail": {"transfer_id": 1},
}


@dataclass(frozen=True)
class Call:
    """One request: how to build its URL and body from the `site` fixture."""

    url: Callable[[Any], str]
    data: Callable[[Any], Any] = lambda site: {}
    json: bool = False  # a JSON body (an API client) instead of a form post (a browser)
    accept_html: bool = False  # a browser form post asks for HTML

    def send(self, client, site, **headers: str):
        kwargs: dict[str, Any] = dict(headers)
        if self.accept_html:
            kwargs["HTTP_ACCEPT"] = "text/html,application/xhtml+xml"
        if self.json:
            return client.post(self.url(site), json.dumps(self.data(site)), content_type="application/json", **kwargs)
        return client.post(self.url(site), self.data(site), **kwargs)


@dataclass(frozen=True)
class Endpoint:
    """A state-changing endpoint: what an anonymous client gets, who is refused (403), who may."""

    name: str  # the URL name
    anonymous: list[tuple[Call, int | str]]  # a status, or "login" for a redirect to the login page
    forbidden: list[tuple[str, Call]] = field(default_factory=list)  # (user attribute of site, call) -> 403
    allowed: list[tuple[str, Call, int]] = field(default_factory=list)  # (user, call, status)


def chat_messages(site) -> str:
    return reverse("chat:messages", args=[site.room.slug])


def run_url(action: str) -> Callable[[Any], str]:
    return lambda site: reverse(f"jobs:{action}", args=[site.run.job_id])


TRANSFERS = lambda site: reverse("ledger:transfers")  # noqa: E731


def transfer(source: str, target: str) -> Callable[[Any], dict]:
    return lambda site: {"from": source, "to": target, "amount": 5}


POST_MESSAGE = Call(chat_messages, lambda site: {"text": "hello"}, json=True)
POST_MESSAGE_FORM = Call(chat_messages, lambda site: {"text": "hello"}, accept_html=True)
CREATE_ROOM = Call(lambda site: reverse("chat:index"), lambda site: {"slug": "new-room", "title": "New"})
NOTIFY = Call(lambda site: reverse("boards:notify", args=[site.board]), lambda site: {"percent": 50}, json=True)
ENQUEUE = Call(
    lambda site: reverse("jobs:enqueue", args=["countdown"]), lambda site: {"params": {"steps": 1}}, json=True
)
ENQUEUE_FORM = Call(lambda site: reverse("jobs:enqueue", args=["countdown"]), lambda site: {"countdown-steps": "1"})
ENQUEUE_STAFF_ONLY = Call(lambda site: reverse("jobs:enqueue", args=["runs_prune"]), lambda site: {}, json=True)


def run_action(action: str, *, json_body: bool = True) -> Call:
    return Call(run_url(action), json=json_body)


OWN = Call(TRANSFERS, transfer("alice-main", "bob-main"), json=True)
OWN_FORM = Call(TRANSFERS, transfer("alice-main", "bob-main"), accept_html=True)
FROM_OTHER = Call(TRANSFERS, transfer("bob-main", "alice-main"), json=True)
FROM_OTHER_FORM = Call(TRANSFERS, transfer("bob-main", "alice-main"), accept_html=True)
DEPOSIT = Call(TRANSFERS, transfer("bank", "alice-main"), json=True)

API_POST_MESSAGE = Call(
    lambda site: reverse("switchboard-api:message_create", args=[site.room.slug]),
    lambda site: {"text": "hi"},
    json=True,
)
API_NOTIFY = Call(
    lambda site: reverse("switchboard-api:notify", args=[site.board]), lambda site: {"percent": 50}, json=True
)
API_ENQUEUE = Call(
    lambda site: reverse("switchboard-api:enqueue", args=["countdown"]),
    lambda site: {"params": {"steps": 1}},
    json=True,
)
API_ENQUEUE_STAFF_ONLY = Call(lambda site: reverse("switchboard-api:enqueue", args=["runs_prune"]), json=True)
API_TRANSFERS = lambda site: reverse("switchboard-api:transfer_create")  # noqa: E731
API_OWN = Call(API_TRANSFERS, transfer("alice-main", "bob-main"), json=True)
API_FROM_OTHER = Call(API_TRANSFERS, transfer("bob-main", "alice-main"), json=True)
API_DEPOSIT = Call(API_TRANSFERS, transfer("bank", "alice-main"), json=True)

STATE_CHANGING = [
    Endpoint(
        "login",
        anonymous=[(Call(lambda site: reverse("login"), lambda site: {"username": "alice", "password": "no"}), 400)],
    ),
    Endpoint(
        "logout",
        anonymous=[(Call(lambda site: reverse("logout")), 302)],
        allowed=[("alice", Call(lambda site: reverse("logout")), 302)],
    ),
    Endpoint(
        "chat:index",  # room creation: the chat.add_room permission
        anonymous=[(CREATE_ROOM, "login")],
        forbidden=[("alice", CREATE_ROOM), ("staff", CREATE_ROOM)],
        allowed=[("room_maker", CREATE_ROOM, 302)],
    ),
    Endpoint(
        "chat:messages",  # posting: signed in is enough
        anonymous=[(POST_MESSAGE, 401), (POST_MESSAGE_FORM, "login")],
        allowed=[("alice", POST_MESSAGE, 201), ("bob", POST_MESSAGE_FORM, 302)],
    ),
    Endpoint(
        "boards:notify",  # staff or boards.notify_board; 401 anonymous (sign in), 403 to other signed-in users
        anonymous=[(NOTIFY, 401)],
        forbidden=[("alice", NOTIFY)],
        allowed=[("notifier", NOTIFY, 200), ("staff", NOTIFY, 200)],
    ),
    Endpoint(
        "jobs:enqueue",  # any signed-in user; staff-only jobs need staff
        anonymous=[(ENQUEUE, 401), (ENQUEUE_FORM, "login")],
        forbidden=[("alice", ENQUEUE_STAFF_ONLY)],
        allowed=[("alice", ENQUEUE, 201), ("staff", ENQUEUE_STAFF_ONLY, 201)],
    ),
    Endpoint(
        "jobs:cancel",  # the run's owner or staff
        anonymous=[(run_action("cancel"), 401), (run_action("cancel", json_body=False), "login")],
        forbidden=[("bob", run_action("cancel")), ("bob", run_action("cancel", json_body=False))],
        allowed=[("alice", run_action("cancel"), 200)],
    ),
    Endpoint(
        "jobs:stop",
        anonymous=[(run_action("stop"), 401), (run_action("stop", json_body=False), "login")],
        forbidden=[("bob", run_action("stop"))],
        allowed=[("staff", run_action("stop"), 409)],  # allowed, but a scheduled run is not running
    ),
    Endpoint(
        "jobs:requeue",
        anonymous=[(run_action("requeue"), 401), (run_action("requeue", json_body=False), "login")],
        forbidden=[("bob", run_action("requeue"))],
        allowed=[("alice", run_action("requeue"), 409)],  # allowed, but only failed/stopped/canceled runs requeue
    ),
    Endpoint(
        "ledger:transfers",  # from one's own accounts; from system accounts (deposits) staff only
        anonymous=[(OWN, 401), (OWN_FORM, "login")],
        forbidden=[("alice", FROM_OTHER), ("alice", FROM_OTHER_FORM), ("alice", DEPOSIT), ("staff", FROM_OTHER)],
        allowed=[("alice", OWN, 201), ("alice", OWN_FORM, 302), ("staff", DEPOSIT, 201)],
    ),
    # The JSON API's writes: the same rules as the endpoints above (a session needs the CSRF token, a token not).
    Endpoint(
        "switchboard-api:message_create",
        anonymous=[(API_POST_MESSAGE, 401)],
        allowed=[("alice", API_POST_MESSAGE, 201)],
    ),
    Endpoint(
        "switchboard-api:notify",
        anonymous=[(API_NOTIFY, 401)],
        forbidden=[("alice", API_NOTIFY)],
        allowed=[("notifier", API_NOTIFY, 200), ("staff", API_NOTIFY, 200)],
    ),
    Endpoint(
        "switchboard-api:enqueue",
        anonymous=[(API_ENQUEUE, 401)],
        forbidden=[("alice", API_ENQUEUE_STAFF_ONLY)],
        allowed=[("alice", API_ENQUEUE, 201), ("staff", API_ENQUEUE_STAFF_ONLY, 201)],
    ),
    Endpoint(
        "switchboard-api:transfer_create",
        anonymous=[(API_OWN, 401)],
        forbidden=[("alice", API_FROM_OTHER), ("alice", API_DEPOSIT), ("staff", API_FROM_OTHER)],
        allowed=[("alice", API_OWN, 201), ("staff", API_DEPOSIT, 201)],
    ),
]
STATE_CHANGING_NAMES = {endpoint.name for endpoint in STATE_CHANGING}
