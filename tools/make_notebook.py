"""Write examples/quickstart.ipynb (unexecuted) from the cells below: the notebook is
generated so that its JSON stays reviewable in diffs.  python tools/make_notebook.py"""
from pathlib import Path

import nbformat as nbf

CELLS = [
    ("md", "# xorsweep quickstart: spec → sweep → map → statistics → figure\n\n"
           "A 2-D slice through the blog author's published start, trained with his rule, on a small "
           "embedded Dask cluster. Every cell of the store is a pure function of the spec, so this "
           "notebook gives the same numbers on any machine."),
    ("code", "%matplotlib inline\n"
             "import tempfile, pathlib\n"
             "from distributed import Client, LocalCluster\n"
             "from xorsweep.sweep.engine import Sweep\n\n"
             "spec = {\n"
             "    'name': 'quickstart-slice',\n"
             "    'training': {'rule': 'seed', 'steps': 100},\n"
             "    'start': {'published': True},\n"
             "    'axes': {'slice': {'u': 'W1[0,2]', 'v': 'W2[1,1]', 'a': [-0.25, 0.25], 'b': [-0.25, 0.25],\n"
             "                       'resolution': [24, 24]}},\n"
             "    'execution': {'block': 96},\n"
             "}\n"
             "store = pathlib.Path(tempfile.mkdtemp()) / 'quickstart.zarr'\n"
             "sw = Sweep(spec, store)\n"
             "print(sw.plan())"),
    ("code", "cluster = LocalCluster(n_workers=2, threads_per_worker=1, host='127.0.0.1', dashboard_address=':0')\n"
             "client = Client(cluster)\n"
             "ds = sw.run(client, progress=True)   # resumable: run it again and nothing is retrained\n"
             "ds"),
    ("md", "## Where training lands\n\nEvery sweep stores three partitions of the outcome: `outcome` "
           "(solved / failed with its decisions / diverged), `solution` (the informative hidden features up to "
           "complement and unit permutation) and `label` (the full gate). Their names are coordinates, so plain "
           "xarray decodes them with one line."),
    ("code", "names = ds.solution_names.isel(solution_class=ds.solution)   # the documented one-liner\n"
             "names.to_series().value_counts()"),
    ("md", "## Statistics, with their controls\n\nBox counts and basin entropy beside a shuffled map with the "
           "same class shares: a map whose boxes are nearly all mixed is *saturated* and gets no dimension."),
    ("code", "from xorsweep.analysis import report\n"
             "print(report.format_report(report.stats_report(ds, n_boot=200, n_balls=200)))"),
    ("md", "## A figure (figure functions take `ax=` and return their artists)"),
    ("code", "from matplotlib.figure import Figure\n"
             "from xorsweep.analysis import basins, figures\n"
             "fig = Figure(figsize=(8, 4.5), layout='constrained')\n"
             "artists = figures.plot_attractor_map(basins.attractor_map(ds.solution), ax=fig.add_subplot(),\n"
             "                                     done=ds.done)\n"
             "fig"),
    ("md", "## The rounding study, in plain xarray\n\nThe published start rounded to 16 … 0 decimals. "
           "`decimals` is a float coordinate with NaN for the unrounded start (`rounded` is False there), "
           "so xarray's own plot draws the rounded starts only, and `sel(decimals=np.nan)` picks the unrounded one."),
    ("code", "import numpy as np\n"
             "rounding = Sweep({'name': 'quickstart-rounding', 'training': {'rule': 'seed', 'steps': 100},\n"
             "                  'start': {'published': True},\n"
             "                  'axes': {'decimals': {'values': ['none'] + list(range(16, -1, -1))}}},\n"
             "                 pathlib.Path(tempfile.mkdtemp()) / 'rounding.zarr').run(client)\n"
             "fig = Figure(figsize=(6, 3), layout='constrained')\n"
             "rounding.accuracy.plot(x='decimals', marker='o', ax=fig.add_subplot())\n"
             "print('unrounded start: accuracy', float(rounding.accuracy.sel(decimals=np.nan)))\n"
             "fig"),
    ("code", "client.close(); cluster.close()"),
]


def main():
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in CELLS]
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating changes only what changed
        cell.id = f"cell-{i:02d}"
    out = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"
    nbf.write(nb, out)
    print(out)


if __name__ == "__main__":
    main()
