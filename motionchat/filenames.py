"""File and folder names that motionchat writes and reads, in one place.

    dataset (HumanML3D layout)   Mean.npy Std.npy; the synthetic corpus adds labels.jsonl edits.jsonl
    bundle                       config.json mean.npy std.npy vq.safetensors lm/ templates/ card.md
    training run                 config.json metrics.jsonl eval.json provenance.json vq.safetensors lm/ codes/

HumanML3D names its statistics `Mean.npy`/`Std.npy`; a bundle keeps its own lower-case copies.
"""

DATASET_MEAN_FILE = "Mean.npy"
DATASET_STD_FILE = "Std.npy"
LABELS_FILE = "labels.jsonl"
EDITS_FILE = "edits.jsonl"

CONFIG_FILE = "config.json"
BUNDLE_MEAN_FILE = "mean.npy"
BUNDLE_STD_FILE = "std.npy"
VQ_FILE = "vq.safetensors"
LM_DIR = "lm"
TEMPLATES_DIR = "templates"
CARD_FILE = "card.md"

METRICS_FILE = "metrics.jsonl"
EVAL_FILE = "eval.json"
PROVENANCE_FILE = "provenance.json"
CODES_DIR = "codes"
