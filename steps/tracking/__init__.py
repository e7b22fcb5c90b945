"""Run glue shared by the entry points: the step's run from start to end, the tracking server, models, datasets."""
