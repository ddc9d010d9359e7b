"""Benchmark plumbing shared by the `flashdispatch bench …` commands."""
