"""Ledger settings with defaults, read when used: setting("LEDGER_...")."""

from typing import Any

from switchboard.conf import AppSettings

DEFAULTS: dict[str, Any] = {
    # Largest amount one transfer may move, in minor units (cents).
    "LEDGER_MAX_TRANSFER_AMOUNT": 10_000_000_00,
    # At most LEDGER_TRANSFER_RATE transfer requests per user in any LEDGER_TRANSFER_RATE_WINDOW seconds (then 429).
    "LEDGER_TRANSFER_RATE": 100,
    "LEDGER_TRANSFER_RATE_WINDOW": 10,
    # Transfers per page on an account page.
    "LEDGER_PAGE_SIZE": 25,
    # Pending transfers fetched per round by the resolver.
    "LEDGER_RESOLVE_BATCH": 200,
    # How the resolver learns a sender's balance: "checkpoint" (the running total kept with each
    # settlement, O(1)) or "log" (the recipe's SUM over the whole log, O(history): for comparison).
    "LEDGER_BALANCE_SOURCE": "checkpoint",
    # Seconds between rounds of `ledger_resolve --loop`.
    "LEDGER_RESOLVE_INTERVAL": 1.0,
    # /health reports unhealthy when a transfer has been pending longer than this (seconds).
    "LEDGER_HEALTH_PENDING_MAX_AGE": 300,
    # Context providers of the pages (dotted paths), after the site-wide ones.
    "LEDGER_INDEX_PROVIDERS": ["ledger.context.accounts_overview"],
    "LEDGER_ACCOUNT_PROVIDERS": [
        "ledger.context.account_header",
        "ledger.context.account_transfers",
        "ledger.context.transfer_form",
    ],
}

# setting(name): the host's value, else the default above (cached until a setting changes).
setting = AppSettings(DEFAULTS)
