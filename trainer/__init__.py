"""Training: stage 1 (motion tokenizer), stage 2 (pretraining), stage 3 (instruction tuning)."""
