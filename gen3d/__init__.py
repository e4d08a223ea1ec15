"""gen3d: 3D generative modeling of atomistic structures."""

__version__ = "0.1.0"
