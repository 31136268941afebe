"""Kernel kinds of the numba CPU backend: each module lowers a few kinds to source lines."""
