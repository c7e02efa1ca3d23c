"""Reads stored sweep datasets (xarray): attractors, maps, statistics, figures."""
