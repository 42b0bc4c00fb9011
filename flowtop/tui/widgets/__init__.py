"""Widgets of the flowtop TUI."""
