"""Stage-3 training speed: milliseconds per step (batch 32) with the plain sample stream and with
batches grouped by length (`train.group_batches`), and with dropout off, as ratios within one run.

    python benchmarks/train_speed.py --data synth20k [--init BUNDLE] [--steps 24] [--rounds 3] [--threads 1]

Settings take turns, `--steps` steps each, `--rounds` times; the median is reported. The first
call encodes the training clips into the cache folder (a minute or two for synth20k).
"""

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import torch

from trainer.sampling import StepBatchSampler
from trainer.seq2seq import seq2seq_loss
from trainer.stage3 import STAGE3_PRESETS, InstructStage, set_dropout

DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "motionchat" / "assets" / "default_bundle"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a stage-3 dataset folder")
    parser.add_argument("--init", type=Path, default=DEFAULT_BUNDLE, help="bundle or stage-2 run folder to train")
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/motionchat-train-speed"), help="where the encoded clips are kept")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = dataclasses.replace(STAGE3_PRESETS["tiny"], task_tags=True)
    stage = InstructStage(cfg, args.data, args.init, args.cache / "bundle", args.cache)
    dataset, model = stage.train_dataset(), stage.build_model()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    length = stage.item_length

    def batches(group: int, round_: int) -> list[dict[str, torch.Tensor]]:
        sampler = StepBatchSampler(
            len(dataset), 32, 0, 1, seed=round_, start=0, stop=args.steps, group_batches=group, length=lambda key: length(dataset[key])
        )
        return [stage.collate([dataset[key] for key in keys]) for keys in sampler]

    def fill(made: list[dict[str, torch.Tensor]]) -> str:
        encoder = sum(int(b["attention_mask"].sum()) for b in made) / sum(b["attention_mask"].numel() for b in made)
        decoder = sum(int((b["labels"] != -100).sum()) for b in made) / sum(b["labels"].numel() for b in made)
        return f"{encoder:.2f} / {decoder:.2f}"

    settings = {"plain stream, dropout 0.1": (1, 0.1), "grouped by length (16), dropout 0.1": (16, 0.1), "grouped by length (16), dropout 0": (16, 0.0)}
    times: dict[str, list[float]] = {name: [] for name in settings}
    fills: dict[str, str] = {}
    for round_ in range(args.rounds):
        for name, (group, dropout) in settings.items():
            made = batches(group, round_)
            fills[name] = fill(made)
            set_dropout(model, dropout)
            loss, _ = seq2seq_loss(model, made[0])  # warm-up step
            loss.backward()
            optimizer.zero_grad(set_to_none=True)
            start = time.perf_counter()
            for batch in made:
                loss, _ = seq2seq_loss(model, batch)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            times[name].append((time.perf_counter() - start) / len(made) * 1000)
    base = statistics.median(times["plain stream, dropout 0.1"])
    print(f"{args.data}: {args.rounds} rounds x {args.steps} steps of batch 32, {args.threads} thread(s)")
    print("setting | ms/step (median) | speed-up | real tokens / padded, encoder / decoder")
    for name in settings:
        ms = statistics.median(times[name])
        print(f"{name} | {ms:.0f} | {base / ms:.2f}x | {fills[name]}")


if __name__ == "__main__":
    main()
