"""The starting set `ctigw init` writes."""
