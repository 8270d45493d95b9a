"""Context providers for jobs pages."""
