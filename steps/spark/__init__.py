"""Spark: the session policy every Spark step uses, the local Python daemon, logging Spark models."""
