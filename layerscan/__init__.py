"""layerscan: find secrets and build leaks in every layer of a container image."""

__version__ = "0.1.0"
