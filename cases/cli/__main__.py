"""`python -m cases.cli`: the same entry point as the `claimcheck` console script."""

from cases.cli import main

main()
