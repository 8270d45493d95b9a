"""Shared plumbing for the Switchboard apps: Redis connections, the pub/sub hub, context providers."""
