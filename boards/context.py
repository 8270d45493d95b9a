"""Context providers for boards pages."""
