"""Readers and writers for XYZ, SDF, PDB, mmCIF and trajectories; every write is atomic."""
