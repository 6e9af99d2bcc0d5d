"""navtalk-sweep: QA and tuning harness for the NavTalk digital-human video API."""

__version__ = "0.1.0"
__all__ = ["__version__"]
