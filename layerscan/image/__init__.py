"""The `Image` model (model.py) and the sources that produce it, one module each:
docker_archive, oci (layout directory and archive), daemon (Docker SDK). open.py picks one
from a target string; source.py is the contract they share."""
