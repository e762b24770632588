"""Evaluation: evaluator networks, metrics and reports."""
