"""The ``gen3d`` command line (installed as the ``gen3d_cli`` package)."""
