"""Admin registrations for chat."""
