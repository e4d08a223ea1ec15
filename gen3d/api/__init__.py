"""The Python API: one function per user task, composing samplers, io, metrics and training.

The CLI is a thin shell over these functions; scripts and notebooks call them directly::

    from gen3d import api
    api.sample_molecules("mols.sdf", 100, seed=0)
    report = api.evaluate_file("mols.sdf")
    report = api.reconstruct_protein("in.pdb", "out.pdb")
    api.rollout("equijump-ala2", "ala2.pdb", "runs/rollout", jumps=100, walkers=10)
"""

from gen3d.api.dynamics import DEFAULT_DYNAMICS, evaluate_trajectories, rollout, run_md, train_dynamics
from gen3d.api.molecules import (
    DEFAULT_POSITION_TEMPERATURE, DEFAULT_TEMPERATURE, DEFAULT_VALENCE_MASK, evaluate_file, report_rows, sample_molecules, train_molecules,
)
from gen3d.api.proteins import (
    DEFAULT_AUTOENCODER, DEFAULT_DENOISER, build_protein_dataset, interpolate_proteins, read_chains, reconstruct_protein,
    sample_proteins, test_autoencoder, train_proteins,
)

__all__ = [
    "DEFAULT_AUTOENCODER", "DEFAULT_DENOISER", "DEFAULT_DYNAMICS", "evaluate_trajectories", "rollout", "run_md", "train_dynamics", "DEFAULT_POSITION_TEMPERATURE", "DEFAULT_TEMPERATURE", "DEFAULT_VALENCE_MASK",
    "build_protein_dataset", "evaluate_file", "interpolate_proteins", "read_chains", "reconstruct_protein", "report_rows",
    "sample_molecules", "sample_proteins", "test_autoencoder", "train_molecules", "train_proteins",
]
