"""Datasets: QM9, PDB fragments, MD trajectories turned into tensors and batches."""
