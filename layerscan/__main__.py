"""`python -m layerscan` runs the command line."""

from .cli.main import main

main()
