"""Backends run rendered jobs: ``local`` (processes, the default) and ``kubernetes``."""
