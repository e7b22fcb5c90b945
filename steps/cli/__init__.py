"""What the user gives a step: typed parameters, what MLproject declares, probes of the endpoints they name."""
