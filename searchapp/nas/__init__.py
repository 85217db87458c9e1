"""Mini-NAS engine: search space, model builder, trainer, Algorithm 1, exports and CLI.

Pure PyTorch: nothing here imports Django, RQ or Channels, so it runs alone on a GPU machine.
"""

__version__ = "0.1.0"
