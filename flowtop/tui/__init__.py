"""The Textual user interface of flowtop."""
