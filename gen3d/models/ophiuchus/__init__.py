"""Ophiuchus: SO(3)-equivariant hourglass autoencoder over protein heavy atoms, and a DDPM on its latents."""
