"""A bank-test client process: random transfers between the test accounts, with retries and abandons.

Run as ``python -m tests.ledger.bank_client SEED COUNT GATE_DIR [MODE]`` with DATABASE_URL naming the
test database: it writes GATE_DIR/ready-PID once set up, then starts when GATE_DIR/go exists.
MODE "mixed" (the default) sends single transfers, some abandoned after the insert, and now and then a
batch (transfers_create_many) holding linked chains; "batches" sends only batches. Prints one JSON
object per line and per transfer once it is acknowledged: key, every transfer id it was answered with,
the final statuses, and the client's label of its linked chain (or null).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time


def main(seed: int, count: int, gate: str, mode: str = "mixed") -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import OperationalError

    from ledger.models import Account
    from ledger.services import (
        InsufficientFunds,
        TransferRequest,
        transfer_create,
        transfer_submit,
        transfers_create_many,
    )

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

    def send_batch(first: int) -> int:
        """A batch of 3 to 12 transfers, some in linked chains of 2 or 3 (sent twice now and then); how many."""
        items, labels = [], []
        while len(items) < rng.randint(3, 12):
            size = rng.choice([1, 1, 2, 3])
            label = f"{seed}-{first + len(items)}" if size > 1 else None
            for n in range(size):
                source, target = rng.sample(accounts, 2)
                key = f"client{seed}-{first + len(items)}"
                items.append(TransferRequest(source, target, rng.randint(1, 400), key, linked=n < size - 1))
                labels.append(label)
        records = [
            {"key": r.idempotency_key, "amount": r.amount, "ids": [], "statuses": [], "abandoned": False, "chain": c}
            for r, c in zip(items, labels, strict=True)
        ]
        for _ in range(2 if rng.random() < 0.3 else 1):
            for retry in range(10):
                try:
                    results = transfers_create_many(requests=items)
                    break
                except OperationalError:
                    time.sleep(0.05 * (retry + 1))
            else:
                raise RuntimeError(f"gave up on the batch from {first}")
            for record, result in zip(records, results, strict=True):
                assert result.transfer is not None, (result.result, str(result.error))
                record["ids"].append(result.transfer.pk)
                record["statuses"].append(result.transfer.status)
        for record in records:
            print(json.dumps(record), flush=True)
        return len(items)

    i = 0
    while i < count:
        roll = rng.random()
        if mode == "batches" or roll > 0.88:
            i += send_batch(i)
            continue
        source, target = rng.sample(accounts, 2)
        amount = rng.randint(1, 400)
        key = f"client{seed}-{i}"
        i += 1
        record = {"key": key, "amount": amount, "ids": [], "statuses": [], "abandoned": False, "chain": None}
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
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], *sys.argv[4:5])
