"""Map library exceptions to the house exit codes: 2 bad input, 1 internal failure."""

from __future__ import annotations

import sys
import traceback

from rich.console import Console

from gen3d.checkpoints import CheckpointError
from gen3d.data.qm9 import QM9NotFound
from gen3d.samplers.base import ConditionError, DeviceError
from gen3d.samplers.equijump import RolloutError
from gen3d.train.config import ConfigError

try:  # the io layer's error type
    from gen3d.io.errors import InputError
except ImportError:  # pragma: no cover - io not installed yet
    InputError = ValueError  # type: ignore[misc,assignment]

BAD_INPUT = (
    InputError, CheckpointError, ConfigError, ConditionError, DeviceError, RolloutError, QM9NotFound, FileNotFoundError, IsADirectoryError,
)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def one_line(err: BaseException) -> str:
    """First line of an exception's message."""
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def run_guarded(func, debug: bool) -> int:
    """Run ``func()``; bad input -> message + exit 2, a bug -> message (+ traceback with --debug) + exit 1."""
    try:
        func()
    except BAD_INPUT as err:
        if debug:
            traceback.print_exc()
        stderr.print(f"[bold red]error:[/] {one_line(err)}", markup=True)
        return 2
    except KeyboardInterrupt:
        stderr.print("interrupted")
        return 130
    except Exception as err:  # noqa: BLE001 - the last line of defence
        if debug:
            traceback.print_exc()
        stderr.print(f"[bold red]internal error:[/] {type(err).__name__}: {one_line(err)} (rerun with --debug for a traceback)")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
