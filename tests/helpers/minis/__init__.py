"""Miniature copies of the datasets in their authors' layouts, written by code."""
