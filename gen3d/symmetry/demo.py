"""Run every symmetry toy experiment, print the measured numbers and draw the README figure.

``python -m gen3d.symmetry.demo [figure.png]`` (about 20 s on one CPU core).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from scipy.stats import chisquare

from gen3d.structures import Molecule
from gen3d.symmetry.detect import detect_point_group
from gen3d.symmetry.flow import barium_titanate_flow_task, integrate, train_flow
from gen3d.symmetry.relaxed import learned_symmetry, train_relaxed
from gen3d.symmetry.shapes import cube, square
from gen3d.symmetry.toys import barium_titanate_task, logits, prism_task, train_selector


def selection_experiment(task, draws: int = 600) -> dict:
    """Train the selector; accuracy over the set, and a chi-square of sampled selections."""
    from gen3d.samplers.base import SymmetryBreaking
    from gen3d.samplers.symmetry_toys import SelectionSampler

    net, losses = train_selector(task)
    b = torch.as_tensor(task.bset.elements)
    with torch.no_grad():
        chosen = logits(net, task, torch.as_tensor(task.positions)[None].expand(len(b), -1, -1), b).argmax(-1).numpy()
    cond = SymmetryBreaking.for_molecule(Molecule(task.numbers, task.positions), task.bset.target)
    picks = [m.properties["selected"] for m in SelectionSampler(net, task).sample(draws, batch_size=200, condition=cond)]
    counts = np.bincount(picks, minlength=len(task.numbers))[task.candidates]
    return {
        "group": task.bset.group, "target": task.bset.target, "set_size": len(b), "irreps": task.bset.irreps,
        "final_loss": losses[-1], "accuracy": float((chosen == task.targets).mean()), "sites_covered": len(set(chosen.tolist())),
        "counts": counts.tolist(), "chi2_p": float(chisquare(counts).pvalue), "net": net, "chosen": chosen,
    }


def flow_experiment() -> dict:
    """Train the interpolant; endpoint error, endpoint groups with b, and the group without b."""
    task = barium_titanate_flow_task()
    net, losses = train_flow(task)
    b = torch.as_tensor(task.bset.elements)
    x0 = torch.as_tensor(task.start)[None].expand(len(b), -1, -1)
    ends = integrate(net, task.species, x0, b).numpy()
    still = integrate(net, task.species, x0[:1], torch.zeros(1, 3, dtype=torch.float64))[0].numpy()
    return {
        "final_loss": losses[-1], "max_endpoint_error": float(np.linalg.norm(ends - task.ends, axis=-1).max()),
        "endpoint_groups": [detect_point_group(e, task.numbers, tol=0.05).symbol for e in ends],
        "zero_b_group": detect_point_group(still, task.numbers, tol=1e-3).symbol, "task": task, "ends": ends,
    }


def relaxed_experiment(shape, stretch) -> dict:
    """Train the relaxed layer; learned components and their symmetry within the input's group."""
    numbers, start = shape()
    net, losses = train_relaxed(start, start * np.asarray(stretch))
    parts = net.layer.components()
    return {
        "final_loss": losses[-1], "learned_symmetry": learned_symmetry(net.layer, detect_point_group(start, numbers).operations),
        "target_symmetry": detect_point_group(start * np.asarray(stretch), numbers).symbol,
        "component_norms": {k: float(np.linalg.norm(v)) for k, v in parts.items()},
    }


def figure(path: str, prism: dict, titanate: dict, flow: dict, relaxed: dict) -> None:
    """Four panels: prism set and selections, BaTiO3 flow paths, sampled counts, learned relaxed components."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(16, 3.8))
    task = prism_task()
    colours = plt.cm.tab10(np.arange(6))
    view = np.array([[1.0, 0.0, 0.0], [0.0, 0.45, 0.9]])  # oblique projection: top and bottom triangles apart
    xy = task.positions @ view.T
    ax[0].scatter(xy[:, 0], xy[:, 1], s=200, c=colours, edgecolors="k", zorder=3)
    for b, site in zip(task.bset.elements @ view.T, prism["chosen"]):
        ax[0].arrow(0, 0, 0.9 * b[0], 0.9 * b[1], color=colours[site], width=0.012, length_includes_head=True, alpha=0.8)
    ax[0].set_title("D3h prism: 12 b (1o), coloured by the vertex picked", fontsize=9)
    ax[0].set_aspect("equal")
    ax[0].axis("off")
    ftask, ends = flow["task"], flow["ends"]
    for k, end in enumerate(ends):
        d = end[0] - ftask.start[0]
        ax[1].bar(k, np.linalg.norm(d), color=plt.cm.tab10(k))
        axis = int(np.abs(d).argmax())
        ax[1].text(k, np.linalg.norm(d) + 0.005, ("+" if d[axis] > 0 else "-") + "xyz"[axis], ha="center", fontsize=8)
    ax[1].set_title(f"BaTiO3 ODE: Ti shift per b (b=0: stays {flow['zero_b_group']})", fontsize=9)
    ax[1].set_xlabel("set element b")
    ax[1].set_ylabel("Ti shift (Å)")
    width = 0.4
    for i, (name, res) in enumerate((("prism vertex", prism), ("BaTiO3 variant", titanate))):
        ax[2].bar(np.arange(6) + i * width, res["counts"], width, label=f"{name} (p={res['chi2_p']:.2f})")
    ax[2].axhline(100, color="k", lw=0.8, ls="--")
    ax[2].set_title("600 samples with SymmetryBreaking", fontsize=9)
    ax[2].legend(fontsize=7)
    keys = ["0o", "1o", "1e", "2e", "2o"]
    for i, (name, res) in enumerate(relaxed.items()):
        ax[3].bar(np.arange(len(keys)) + i * width, [res["component_norms"][k] for k in keys], width,
                  label=f"{name}: learned {res['learned_symmetry']}")
    ax[3].set_xticks(np.arange(len(keys)) + width / 2, keys)
    ax[3].set_title("relaxed layer: |learned non-scalar part|", fontsize=9)
    ax[3].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(path: str | None = None) -> dict:
    torch.set_num_threads(1)
    prism, titanate, flow = selection_experiment(prism_task()), selection_experiment(barium_titanate_task()), flow_experiment()
    relaxed = {"cube->prism": relaxed_experiment(cube, [1, 1, 1.5]), "square->rectangle": relaxed_experiment(square, [1.3, 1, 1])}
    if path:
        figure(path, prism, titanate, flow, relaxed)
    drop = ("net", "chosen", "task", "ends")
    summary = {"prism": prism, "BaTiO3": titanate, "flow": flow, **relaxed}
    return {name: {k: v for k, v in res.items() if k not in drop} for name, res in summary.items()}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else None), indent=2, default=float))
