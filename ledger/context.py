"""Context providers for ledger pages."""
