"""``gen3d proteins evaluate`` on a throwaway Typer app: table, JSON, plots, folders, and one-line errors (exit 2)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gen3d_cli.proteins_evaluate import register

DSSP = Path(importlib.util.find_spec("MDAnalysisTests").submodule_search_locations[0]) / "data" / "dssp"
HELICAL, SHEET, SMALL = (DSSP / f"{name}.pdb.gz" for name in ("4gcnA", "3aqgA", "2xcjA"))

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer(rich_markup_mode="markdown")

    @app.callback()
    def root() -> None:
        """A stand-in for the ``gen3d proteins`` group."""

    register(app)
    return app


def invoke(*args: str):
    return runner.invoke(_app(), ["evaluate", *map(str, args)])


def test_help_has_examples():
    res = invoke("--help")
    assert res.exit_code == 0
    assert "Examples" in res.output and "gen3d proteins evaluate" in res.output and "--no-tm" in res.output


def test_table_json_and_plots(tmp_path):
    out, plots = tmp_path / "m.json", tmp_path / "plots"
    res = invoke(HELICAL, SHEET, "--json", out, "--plots", plots, "--no-tm")
    assert res.exit_code == 0, res.output
    assert "rama_allowed" in res.output and "100.0%" in res.output and "per 1000 atoms" in res.output
    report = json.loads(out.read_text())
    assert report["n"] == 2 and [i["name"] for i in report["per_item"]] == ["4gcnA", "3aqgA"]
    m = report["metrics"]
    assert m["rama_allowed"] == 1.0 and m["has_break"] == 0.0 and "pairwise_tm" not in m
    assert m["helix"] == pytest.approx((104 / 127 + 0 / 133) / 2)
    for label in ("n", *m):
        assert f"{label} " in res.output or f"{label}\n" in res.output  # the table shows the JSON's keys
    assert sorted(p.name for p in plots.iterdir()) == ["radius_of_gyration.png", "ramachandran.png"]


def test_folder_with_reference(tmp_path):
    folder, ref = tmp_path / "samples", tmp_path / "ref"
    (folder / "sub").mkdir(parents=True)
    ref.mkdir()
    shutil.copy(SMALL, folder / "a.pdb.gz")
    shutil.copy(SMALL, folder / "sub" / "b.pdb.gz")
    (folder / "notes.txt").write_text("not a structure")
    shutil.copy(SMALL, ref / "same.pdb.gz")
    out = tmp_path / "m.json"
    res = invoke(folder, "--reference", ref, "--json", out)
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    m = report["metrics"]
    assert report["n"] == 2 and m["pairwise_tm"] == pytest.approx(1.0)
    assert m["max_tm_to_reference"] == pytest.approx(1.0) and m["novel"] == 0.0
    assert "openmm_builds" not in m and report["per_item"][1]["file"].endswith("sub/b.pdb.gz")


def test_openmm_flag(tmp_path):
    out = tmp_path / "m.json"
    res = invoke(SMALL, "--openmm", "--no-tm", "--json", out)
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert report["metrics"]["openmm_builds"] == 1.0 and report["per_item"][0]["openmm"] == ""


BAD_FILES = {
    "empty.pdb": b"",
    "truncated.pdb": b"ATOM      1  N   ALA A   1      11.104   6.134\n",
    "ions.pdb": b"HETATM    1 ZN    ZN A 101      10.000  10.000  10.000  1.00 20.00          ZN\nEND\n",
    "garbage.cif.gz": b"\x1f\x8b not really gzip",
    "words.txt": b"hello\n",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_input_exits_2_with_one_line(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    res = invoke(HELICAL, path, "--no-tm")
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and name in lines[0], res.stderr
    assert "Traceback" not in res.output


def test_missing_path_and_empty_folder_exit_2(tmp_path):
    res = invoke(tmp_path / "nope.pdb", "--no-tm")
    assert res.exit_code == 2 and "nope.pdb: no such file or folder" in res.stderr
    (tmp_path / "empty").mkdir()
    res = invoke(tmp_path / "empty", "--no-tm")
    assert res.exit_code == 2 and "holds no .pdb/.cif files" in res.stderr
    res = invoke(HELICAL, "--no-tm", "--reference", tmp_path / "missing")
    assert res.exit_code == 2 and "missing: no such file or folder" in res.stderr
