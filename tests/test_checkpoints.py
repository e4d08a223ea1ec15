"""Checkpoints: verified loading; corrupt, foreign and missing checkpoints are refused safely."""

import json
import pickle

import pytest
import torch

from gen3d.checkpoints import CARD, WEIGHTS, CheckpointError, load_checkpoint, save_checkpoint, sha256_of
from gen3d.samplers.symphony import SymphonySampler
from tests.helpers import tiny_checkpoint


def test_round_trip(tmp_path):
    card = save_checkpoint(tmp_path, {"w": torch.arange(4.0)}, {"method": "symphony", "name": "x"})
    assert card["sha256"] == sha256_of(tmp_path / WEIGHTS)
    state, loaded = load_checkpoint(tmp_path, "symphony")
    assert torch.equal(state["w"], torch.arange(4.0))
    assert loaded["name"] == "x"


def test_corrupt_weights_are_refused(tmp_path):
    folder = tiny_checkpoint(tmp_path)
    with open(folder / WEIGHTS, "ab") as handle:
        handle.write(b"junk")
    with pytest.raises(CheckpointError, match="sha256"):
        SymphonySampler.from_checkpoint(str(folder))


def test_foreign_method_is_refused(tmp_path):
    save_checkpoint(tmp_path, {"w": torch.zeros(1)}, {"method": "ophiuchus"})
    with pytest.raises(CheckpointError, match="ophiuchus"):
        load_checkpoint(tmp_path, "symphony")


class _Boom:
    def __reduce__(self):
        return (open, ("SHOULD_NOT_EXIST", "w"))


def test_pickle_in_disguise_is_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blob = pickle.dumps({"w": _Boom()})
    (tmp_path / WEIGHTS).write_bytes(blob)
    import hashlib

    (tmp_path / CARD).write_text(json.dumps({"method": "symphony", "sha256": hashlib.sha256(blob).hexdigest()}))
    with pytest.raises(CheckpointError, match="safetensors"):
        load_checkpoint(tmp_path, "symphony")
    assert not (tmp_path / "SHOULD_NOT_EXIST").exists()


def test_weights_that_do_not_fit_the_config(tmp_path):
    save_checkpoint(tmp_path, {"w": torch.zeros(1)}, {"method": "symphony", "version": "symphony/v1", "config": {}})
    with pytest.raises(CheckpointError, match="do not match"):
        SymphonySampler.from_checkpoint(str(tmp_path))


@pytest.mark.parametrize("card", ["not json", "[]", json.dumps({"method": "symphony"})])
def test_bad_cards(tmp_path, card):
    (tmp_path / WEIGHTS).write_bytes(b"")
    (tmp_path / CARD).write_text(card)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path, "symphony")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope", "symphony")


def test_publish_keeps_weights_and_records_metrics(tmp_path):
    from gen3d.checkpoints import publish

    src = tiny_checkpoint(tmp_path / "src")
    report = {"n": 10, "metrics": {"validity": 0.9}, "per_item": []}
    card = publish(str(src), tmp_path / "dst", report, "gen3d molecules sample ...", {"learning_curve": []})
    assert card["metrics"] == {"command": "gen3d molecules sample ...", "n": 10, "values": {"validity": 0.9}}
    a, _ = load_checkpoint(src, "symphony")
    b, loaded = load_checkpoint(tmp_path / "dst", "symphony")
    assert loaded["sha256"] == card["sha256"] and all(torch.equal(a[k], b[k]) for k in a)
