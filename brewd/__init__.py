"""brewd: the background-jobs daemon of Brew Me In."""

__version__ = "0.1.0"
