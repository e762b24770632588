"""The `trainer` command: datasets and the three training stages."""

import typer

from trainer.data_cli import app as data_app

app = typer.Typer(
    help="Train motionchat models: the motion tokenizer (stage1), pretraining (stage2), instruction tuning (stage3).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data_app, name="data")
