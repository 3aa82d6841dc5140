"""tamga: the uniform digital platform for cross-border trade in the Union State of Russia and Belarus."""

__version__ = "0.1.0"
