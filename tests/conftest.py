"""Shared fixtures: deterministic torch, a single thread (tests must stay fast and quiet)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
