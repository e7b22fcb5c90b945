"""`score`: a table scored on Spark with any model of this project; the model, the task side, the job and its output."""
