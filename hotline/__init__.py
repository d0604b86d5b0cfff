"""hotline package."""
