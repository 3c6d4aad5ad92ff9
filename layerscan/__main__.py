"""`python -m layerscan` runs the CLI."""

from .cli import main

main()
