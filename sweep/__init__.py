"""Sweeps of XOR-network starts over Dask into a Zarr-backed xarray dataset, and the CLI."""
