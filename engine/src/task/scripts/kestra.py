"""Mortar's own `kestra` module for Python script tasks.

It offers the part of the `kestra` package (on PyPI) that scripts use to
talk to the orchestrator, so that `from kestra import Kestra` works without
installing anything: each call prints one line of the orchestrator's
output protocol, `::{...}::`, which the task reads. A `kestra` the task
installs through `dependencies` is used instead.
"""

import json
import logging
import time

__all__ = ["Kestra"]


class Kestra:
    """Outputs, metrics and logs sent to the task that runs the script."""

    @staticmethod
    def _send(message):
        print("::" + json.dumps(message, default=str) + "::", flush=True)

    @staticmethod
    def outputs(values):
        """Sets the task's `vars` output: a dict, merged into earlier ones."""
        Kestra._send({"outputs": values})

    @staticmethod
    def _metric(name, kind, value, tags):
        Kestra._send(
            {"metrics": [{"name": name, "type": kind, "value": value, "tags": tags or {}}]}
        )

    @staticmethod
    def counter(name, value, tags=None):
        """Adds `value` to the counter `name`."""
        Kestra._metric(name, "counter", value, tags)

    @staticmethod
    def timer(name, duration, tags=None):
        """Records a duration in seconds, or times a callable."""
        if callable(duration):
            started = time.perf_counter()
            duration()
            duration = time.perf_counter() - started
        Kestra._metric(name, "timer", duration, tags)

    @staticmethod
    def logger():
        """A logger whose records become the task's log lines at their level."""
        logger = logging.getLogger("Kestra")
        if not any(isinstance(h, _Handler) for h in logger.handlers):
            logger.addHandler(_Handler())
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
        return logger


class _Handler(logging.Handler):
    LEVELS = {
        logging.DEBUG: "DEBUG",
        logging.INFO: "INFO",
        logging.WARNING: "WARN",
        logging.ERROR: "ERROR",
        logging.CRITICAL: "ERROR",
    }

    def emit(self, record):
        level = self.LEVELS.get(record.levelno, "INFO")
        Kestra._send({"logs": [{"level": level, "message": self.format(record)}]})
