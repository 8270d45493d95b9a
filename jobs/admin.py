"""Admin registrations for jobs."""
