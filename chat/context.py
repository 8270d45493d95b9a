"""Context providers for chat pages."""
