"""Training configuration files (TOML) with ``section.key=value`` command-line overrides."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path


class ConfigError(ValueError):
    """A configuration file or override that cannot be used."""


def load_config(path: Path, overrides: list[str] = ()) -> dict:
    """Read a TOML file and apply overrides such as ``train.steps=1000`` or ``model.num_layers=2``."""
    try:
        config = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or "." not in key:
            raise ConfigError(f"override '{item}' is not of the form section.key=value")
        section, name = key.split(".", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        config.setdefault(section, {})[name] = value
    return config
