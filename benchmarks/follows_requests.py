"""Does the model do what it is asked? Ten single-action requests worded freely, several seeds,
through the chat engine; the shipped action recogniser reads each motion back. Prints each answer's
recognised actions and the share of samples that contain the requested one.

    python benchmarks/follows_requests.py [--bundle B] [--guidance 1 2 3] [--seeds 4]
"""

import argparse
import tempfile
from pathlib import Path

from eval.assets import SHIPPED_RECOGNIZER
from eval.recognizer import load_recognizer
from motionchat.chat.engine import Engine
from motionchat.chat.session import Session

REQUESTS = [
    ("a person jumps twice", "jump"),
    ("someone waves with the right hand", "wave"),
    ("a man walks forward", "walk"),
    ("a person kicks with the left leg", "kick"),
    ("the person squats down", "squat"),
    ("a woman sits down", "sit_down"),
    ("someone claps", "clap"),
    ("a person bows", "bow"),
    ("a person punches", "punch"),
    ("someone spins around", "spin"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the shipped one)")
    parser.add_argument("--guidance", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    recognizer = load_recognizer(SHIPPED_RECOGNIZER)
    with tempfile.TemporaryDirectory() as out:
        for guidance in args.guidance:
            hits = 0
            for seed in range(args.seeds):
                session = Session(out_dir=Path(out), seed=seed, guidance=guidance)
                engine = Engine(session, args.bundle, "none")
                replies = engine.ask_many([text for text, _ in REQUESTS])
                motions = [engine.session.get(reply.motions[0].name).features for reply in replies]
                for (text, wanted), program in zip(REQUESTS, recognizer.recognise(motions)):
                    names = [action.name for action in program]
                    hits += wanted in names
                    print(f"guidance {guidance:g} seed {seed} {'ok' if wanted in names else '  '} {text!r}: {names}")
            print(f"guidance {guidance:g}: {hits}/{len(REQUESTS) * args.seeds} samples contain the requested action")


if __name__ == "__main__":
    main()
