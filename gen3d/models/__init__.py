"""Networks and losses of each generative method (no file I/O)."""
