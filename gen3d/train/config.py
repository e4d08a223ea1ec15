"""Training configuration files (TOML) with ``section.key=value`` command-line overrides."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gen3d.train.loop import TrainConfig


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


def split_config(
    config: dict, model_from_dict, required_data: tuple[str, ...] = (), warm_start: bool = False
) -> tuple[object, "TrainConfig", dict]:
    """A parsed config as (model config via ``model_from_dict(config["model"])``, TrainConfig, data settings).

    ``warm_start`` says whether the trainer honours ``train.init_from``; others reject it rather than ignore it.
    """
    from dataclasses import fields

    from gen3d.train.loop import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    unknown = set(config.get("train", {})) - known
    if unknown:
        raise ConfigError(f"unknown train keys: {sorted(unknown)}")
    if config.get("train", {}).get("init_from") and not warm_start:
        raise ConfigError("train.init_from is not supported by this trainer")
    data = config.get("data", {})
    missing = [key for key in required_data if key not in data]
    if missing:
        raise ConfigError(f"the config needs data.{missing[0]}")
    try:
        model = model_from_dict(config.get("model", {}))
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err)) from None
    return model, TrainConfig(**config.get("train", {})), data
