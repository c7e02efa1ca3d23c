"""Figure functions: each takes xarray objects and ``ax=`` (or ``axes=``), draws, and returns
the artists; none shows or saves a figure (``analysis.cli`` does the saving)."""
from xorsweep.analysis.figures.convergence import plot_solved_step_by, plot_solved_step_map
from xorsweep.analysis.figures.network import (plot_accuracy_loss, plot_b2_path, plot_path_3d,
                                      plot_path_projections)
from xorsweep.analysis.figures.sweeps import (plot_attractor_map, plot_attractor_shares, plot_box_count,
                                     plot_flip_rate, plot_uncertainty)

__all__ = ["plot_accuracy_loss", "plot_b2_path", "plot_path_3d", "plot_path_projections",
           "plot_attractor_map", "plot_attractor_shares", "plot_box_count", "plot_flip_rate",
           "plot_uncertainty", "plot_solved_step_by", "plot_solved_step_map"]
