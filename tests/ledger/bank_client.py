"""A bank-test client process: random transfers between the test accounts, with retries and abandons.

Run as ``python -m tests.ledger.bank_client SEED COUNT GATE_DIR`` with DATABASE_URL naming the test
database: it writes GATE_DIR/ready-PID once set up, then starts when GATE_DIR/go exists.
Prints one JSON object per line: key, every transfer id it was answered with, and the final status.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time


def main(seed: int, count: int, gate: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import OperationalError

    from ledger.models import Account
    from ledger.services import InsufficientFunds, transfer_create, transfer_submit

    rng = random.Random(seed)
    accounts = list(Account.objects.filter(kind=Account.Kind.CUSTOMER).order_by("name"))
    open(os.path.join(gate, f"ready-{os.getpid()}"), "w").close()
    while not os.path.exists(os.path.join(gate, "go")):
        time.sleep(0.002)

    def attempt(source, target, amount, key):
        for retry in range(10):
            try:
                transfer = transfer_create(source=source, target=target, amount=amount, idempotency_key=key)
            except InsufficientFunds as exc:
                transfer = exc.transfer
            except OperationalError:  # a transient database error: a real client retries with its key
                time.sleep(0.05 * (retry + 1))
                continue
            return transfer.pk, transfer.status
        raise RuntimeError(f"gave up on {key}")

    for i in range(count):
        source, target = rng.sample(accounts, 2)
        amount = rng.randint(1, 400)
        key = f"client{seed}-{i}"
        roll = rng.random()
        record = {"key": key, "amount": amount, "ids": [], "statuses": [], "abandoned": False}
        if roll < 0.08:
            # A client that dies right after inserting: the transfer stays pending for a resolver.
            transfer, _ = transfer_submit(source=source, target=target, amount=amount, idempotency_key=key)
            record["ids"].append(transfer.pk)
            record["abandoned"] = True
            if roll < 0.04:  # ...and comes back later with its key
                record["ids"].append(attempt(source, target, amount, key)[0])
        else:
            for _ in range(2 if roll < 0.3 else 1):  # some clients retry with their key
                pk, status = attempt(source, target, amount, key)
                record["ids"].append(pk)
                record["statuses"].append(status)
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
