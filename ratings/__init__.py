"""ratings package."""
