"""Run-time options, read from environment variables at import and settable in code.

    NUMBAX_CACHE_DIR             where compiled kernels are kept (default ~/.cache/numbax)
    NUMBAX_DISABLE_DISK_CACHE=1  compile in memory only
    NUMBAX_LOG_COMPILES=1        log every kernel compile and every cache hit (logger "numbax")

`numbax.config.update("numbax_log_compiles", True)` is JAX's spelling; plain attribute
assignment (`numbax.config.log_compiles = True`) works too.
"""
from __future__ import annotations

import logging
import os

logger = logging.getLogger("numbax")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


class Config:
    """The options; attribute names are the env var names without the `NUMBAX_` prefix."""

    def __init__(self):
        self.cache_dir: str = os.path.expanduser(
            os.environ.get("NUMBAX_CACHE_DIR") or os.path.join("~", ".cache", "numbax"))
        self.disable_disk_cache: bool = _env_flag("NUMBAX_DISABLE_DISK_CACHE")
        self.log_compiles: bool = _env_flag("NUMBAX_LOG_COMPILES")

    def update(self, name: str, value) -> None:
        key = name.lower().removeprefix("numbax_")
        if key not in vars(self):
            raise AttributeError(f"numbax.config has no option {name!r}; options: "
                                 f"{', '.join('numbax_' + k for k in vars(self))}")
        setattr(self, key, value)

    def __repr__(self):
        return "numbax.config(" + ", ".join(f"{k}={v!r}" for k, v in vars(self).items()) + ")"


config = Config()


def log(msg: str, *args) -> None:
    """Log at INFO on the "numbax" logger when compile logging is on (and make it visible)."""
    if config.log_compiles:
        if not logger.handlers and not logging.getLogger().handlers:
            logging.basicConfig(format="numbax: %(message)s")
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.info(msg, *args)
