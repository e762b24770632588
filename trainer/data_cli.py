"""`trainer data ...`: make and inspect datasets."""

import typer

app = typer.Typer(help="Make and inspect datasets (synthetic corpus, your own BVH files).", no_args_is_help=True)
