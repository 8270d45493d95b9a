import json
from django.test import Client
from tests.api.conftest import bearer
from chat.models import Room
from ledger.models import Account
from ledger.services import account_create, transfer_create


def test_smoke(db, token, user, staff_user):
    c = Client(enforce_csrf_checks=True)
    Room.objects.create(slug="r1", title="R1")
    for method, url, kw in [
        ("get", "/api/chat/rooms", {}),
        ("get", "/api/nope", {}),
        ("delete", "/api/chat/rooms", {}),
        ("get", "/api/ledger/accounts", {}),
        ("get", "/api/ledger/accounts", {"headers": bearer("sbt_bad")}),
        (
            "post",
            "/api/chat/rooms/r1/messages",
            {"data": json.dumps({"text": "hi"}), "content_type": "application/json", "headers": bearer(token)},
        ),
        (
            "post",
            "/api/chat/rooms/r1/messages",
            {"data": json.dumps({"txt": "hi"}), "content_type": "application/json", "headers": bearer(token)},
        ),
        (
            "post",
            "/api/chat/rooms/r1/messages",
            {"data": "[[[", "content_type": "application/json", "headers": bearer(token)},
        ),
        ("get", "/api/chat/rooms/r1/messages", {}),
        ("get", "/api/chat/rooms/r1/messages?cursor=zz", {}),
        ("get", "/api/jobs/catalog", {}),
        (
            "post",
            "/api/jobs/catalog/countdown/enqueue",
            {
                "data": json.dumps({"params": {"steps": 2}}),
                "content_type": "application/json",
                "headers": bearer(token),
            },
        ),
        ("get", "/api/jobs/runs", {"headers": bearer(token)}),
        ("get", "/api/boards/", {}),
        ("get", "/api/openapi.json", {}),
        ("get", "/api/docs", {}),
    ]:
        r = getattr(c, method)(url, **kw)
        print(method, url, r.status_code, r.content[:400])
    c.force_login(user)
    r = c.post("/api/chat/rooms/r1/messages", data=json.dumps({"text": "hi"}), content_type="application/json")
    print("session no csrf", r.status_code, r.content[:300])
    bank = account_create(name="bank", kind=Account.Kind.SYSTEM)
    mine = account_create(name="mine", owner=user)
    account_create(name="other")
    transfer_create(source=bank, target=mine, amount=1000)
    c2 = Client()
    for body in [
        {"from": "mine", "to": "other", "amount": 5},
        {"from": "mine", "to": "other", "amount": 5000},
        {"from": "other", "to": "mine", "amount": 5},
    ]:
        r = c2.post(
            "/api/ledger/transfers", data=json.dumps(body), content_type="application/json", headers=bearer(token)
        )
        print("transfer", r.status_code, r.content[:400])
    print(c2.get("/api/ledger/accounts", headers=bearer(token)).content)
    print(c2.get("/api/ledger/accounts/mine/transfers?limit=1", headers=bearer(token)).content)
