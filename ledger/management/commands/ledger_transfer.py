"""Move money between two accounts, or many transfers read from a CSV or JSON file."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledger.conf import setting
from ledger.models import Account
from ledger.money import money_format
from ledger.selectors import account_get
from ledger.services import (
    InsufficientFunds,
    InvalidTransfer,
    LedgerError,
    TransferRequest,
    transfer_create,
    transfers_create_many,
)

FILE_HELP = (
    "read many transfers from a .csv (header: from,to,amount[,key][,linked]) or .json file (a list of objects"
    ' {"from", "to", "amount", "key", "linked"}); sent in batches of LEDGER_BATCH_MAX, progress on stderr'
)


class Command(BaseCommand):
    help = "Transfer AMOUNT minor units from one account to another (or --file many); non-zero exit when rejected."

    def add_arguments(self, parser):
        parser.add_argument("source", metavar="from", nargs="?")
        parser.add_argument("target", metavar="to", nargs="?")
        parser.add_argument("amount", nargs="?", help="a positive whole number of minor units (cents)")
        parser.add_argument("--key", help="idempotency key: running again with it never moves money twice")
        parser.add_argument("--file", help=FILE_HELP)

    def handle(self, *args, source, target, amount, key, file, **options):
        if file is not None:
            if source or target or amount or key:
                raise CommandError("Give either FROM TO AMOUNT or --file, not both.")
            return self._many(Path(file))
        if not (source and target and amount):
            raise CommandError("Give FROM TO AMOUNT (or --file PATH for many transfers).")
        try:
            value = int(amount)
        except ValueError:
            raise CommandError(f"Amount {amount!r} is not a whole number of minor units (cents).")
        accounts = []
        for name in (source, target):
            account = account_get(name=name)
            if account is None:
                raise CommandError(f"There is no account {name!r}: see `manage.py ledger_balances`.")
            accounts.append(account)
        try:
            transfer = transfer_create(source=accounts[0], target=accounts[1], amount=value, idempotency_key=key)
        except InsufficientFunds as exc:
            raise CommandError(f"Rejected: {exc}")
        except LedgerError as exc:
            raise CommandError(str(exc))
        note = " (already done with this key)" if transfer.replayed else ""
        self.stdout.write(
            f"Transfer #{transfer.pk}: {source} -> {target} {money_format(transfer.amount)} {transfer.status}{note}"
        )

    def _many(self, path: Path) -> None:
        rows = _read(path)
        names = {str(row.get(field)) for row in rows for field in ("from", "to")}
        accounts = {a.name: a for a in Account.objects.filter(name__in=names)}
        size, counts, total = setting("LEDGER_BATCH_MAX"), Counter(), len(rows)
        for start in range(0, total, size):
            chunk = rows[start : start + size]
            if chunk[-1].get("linked") and start + size < total:
                raise CommandError(f"Row {start + size} starts a chain across batches of {size}: split it earlier.")
            requests = [_request(row, accounts) for row in chunk]
            for offset, result in enumerate(transfers_create_many(requests=requests)):
                counts[result.result] += 1
                if result.result in ("invalid", "rejected"):
                    why = result.error if result.transfer is None else result.transfer.reason
                    self.stdout.write(f"row {start + offset + 1}: {result.result}: {why}")
            done = min(start + size, total)
            self.stderr.write(f"{done}/{total} transfers ({100 * done // total} %)")
        summary = ", ".join(f"{counts[kind]} {kind}" for kind in ("created", "replayed", "rejected", "invalid"))
        self.stdout.write(f"{total} transfers from {path.name}: {summary}.")
        if counts["invalid"] or counts["rejected"]:
            raise CommandError(f"{counts['invalid'] + counts['rejected']} transfer(s) did not go through (see above).")


def _read(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() not in (".csv", ".json"):
        raise CommandError(f"{path}: give a .csv or .json file.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"Cannot read {path}: {exc}")
    if path.suffix.lower() == ".json":
        try:
            rows = json.loads(text)
        except ValueError as exc:
            raise CommandError(f"{path} is not JSON: {exc}")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise CommandError(f'{path} must hold a list of objects {{"from", "to", "amount", ...}}.')
    else:
        rows = list(csv.DictReader(text.splitlines()))
        if rows and not {"from", "to", "amount"} <= set(rows[0]):
            raise CommandError(f"{path} needs a header line: from,to,amount[,key][,linked].")
        for row in rows:
            row["linked"] = str(row.get("linked") or "").strip().lower() in ("1", "true", "yes")
    if not rows:
        raise CommandError(f"{path} holds no transfers.")
    return rows


def _request(row: dict[str, Any], accounts: dict[str, Account]) -> TransferRequest:
    linked = row.get("linked") is True
    request = TransferRequest(source=None, target=None, amount=None, linked=linked)
    source, target = accounts.get(str(row.get("from"))), accounts.get(str(row.get("to")))
    amount = row.get("amount")
    if isinstance(amount, str) and amount.strip().isdigit():
        amount = int(amount.strip())
    missing = [repr(row.get(f)) for f, account in (("from", source), ("to", target)) if account is None]
    if missing:
        request.error = InvalidTransfer(f"There is no account {' or '.join(missing)}.")
        return request
    request.source, request.target, request.amount = source, target, amount
    request.idempotency_key = row.get("key") or None
    return request
