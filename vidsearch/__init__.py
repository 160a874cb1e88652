"""vidsearch: search a personal video library by meaning, locally."""

__version__ = "0.1.0"
