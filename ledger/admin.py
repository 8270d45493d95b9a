"""Admin registrations for ledger."""
