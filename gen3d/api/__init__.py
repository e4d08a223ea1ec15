"""The Python API: one function per user task, composing samplers, io, metrics and training.

The CLI is a thin shell over these functions; scripts and notebooks call them directly::

    from gen3d import api
    api.sample_molecules("mols.sdf", 100, seed=0)
    report = api.evaluate_file("mols.sdf")
    report = api.reconstruct_protein("in.pdb", "out.pdb")
"""

from gen3d.api.molecules import (  # noqa: F401
    DEFAULT_POSITION_TEMPERATURE, DEFAULT_TEMPERATURE, DEFAULT_VALENCE_MASK, evaluate_file, report_rows, sample_molecules, train_molecules,
)
from gen3d.api.proteins import (  # noqa: F401
    DEFAULT_AUTOENCODER, DEFAULT_DENOISER, build_protein_dataset, interpolate_proteins, read_chains, reconstruct_protein,
    sample_proteins, test_autoencoder, train_proteins,
)
