"""flowtop: a top-like live monitor for the flows of an SD-WAN appliance."""

__version__ = "0.1.0"
