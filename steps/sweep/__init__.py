"""The per-group sweep on Spark: the tasks log each group's runs, the driver runs the job and cleans up."""
