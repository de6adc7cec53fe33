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
import sys
import types

__all__ = ["Config", "config", "update"]

logger = logging.getLogger("numbax")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


class Config:
    """The options; attribute names are the env var names without the `NUMBAX_` prefix:
    `cache_dir`, `disable_disk_cache`, `log_compiles`. The one instance is `config`."""

    def __init__(self):
        self.cache_dir: str = os.path.expanduser(
            os.environ.get("NUMBAX_CACHE_DIR") or os.path.join("~", ".cache", "numbax"))
        self.disable_disk_cache: bool = _env_flag("NUMBAX_DISABLE_DISK_CACHE")
        self.log_compiles: bool = _env_flag("NUMBAX_LOG_COMPILES")

    def update(self, name: str, value) -> None:
        """Set an option by JAX's spelling (`"numbax_log_compiles"`) or the attribute name;
        an unknown name raises AttributeError listing the options."""
        key = name.lower().removeprefix("numbax_")
        if key not in vars(self):
            raise AttributeError(f"numbax.config has no option {name!r}; options: "
                                 f"{', '.join('numbax_' + k for k in vars(self))}")
        setattr(self, key, value)

    def __repr__(self):
        return "numbax.config(" + ", ".join(f"{k}={v!r}" for k, v in vars(self).items()) + ")"


config = Config()


def update(name: str, value) -> None:
    """`numbax.config.update("numbax_log_compiles", True)`, JAX's spelling."""
    config.update(name, value)


class _OptionsModule(types.ModuleType):
    """`numbax.config` is this module: its option attributes read and write the one `config`,
    so `numbax.config.log_compiles = True` takes effect, as in JAX."""

    def __getattr__(self, name):
        if name in vars(config):
            return getattr(config, name)
        raise AttributeError(f"module 'numbax.config' has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name in vars(config):
            setattr(config, name, value)
        else:
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _OptionsModule


def log(msg: str, *args) -> None:
    """Log at INFO on the "numbax" logger when compile logging is on (and make it visible)."""
    if config.log_compiles:
        if not logger.handlers and not logging.getLogger().handlers:
            logging.basicConfig(format="numbax: %(message)s")
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.info(msg, *args)
