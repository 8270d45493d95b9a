"""Jobs models."""
