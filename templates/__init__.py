"""The 15 task families as data (one JSON file per family)."""
