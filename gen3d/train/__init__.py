"""One training loop (resume, DDP, logging, EMA) shared by every model."""

from gen3d.train.loop import TrainConfig, Task, train

__all__ = ["Task", "TrainConfig", "train"]
