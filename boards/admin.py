"""Admin registrations for boards."""
