"""Helper library for the Dynamic Inference course kit.

Importing the package runs nothing: no downloads, no device probing, no prints.
"""

from course_lib import checks, cost, data, env, models, plots, release_info, results, timing, training

__version__ = release_info.VERSION

__all__ = [
    "__version__",
    "checks",
    "cost",
    "data",
    "env",
    "models",
    "plots",
    "release_info",
    "results",
    "timing",
    "training",
]
