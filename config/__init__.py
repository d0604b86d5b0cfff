"""Configuration: settings from the environment plus the domain defaults of DOMAIN.md."""

from config.settings import load_settings

__all__ = ["load_settings"]
