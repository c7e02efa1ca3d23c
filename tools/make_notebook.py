"""Write examples/quickstart.ipynb (unexecuted) from the cells below: the notebook is
generated so that its JSON stays reviewable in diffs.  python tools/make_notebook.py"""
from pathlib import Path

import nbformat as nbf

CELLS = [
    ("md", "# xorsweep quickstart: spec → sweep → map → statistics → figure\n\n"
           "A 2-D slice through the blog author's published start, trained with his rule, on a small "
           "embedded Dask cluster. Every cell of the store is a pure function of the spec, so this "
           "notebook gives the same numbers on any machine."),
    ("code", "import tempfile, pathlib\n"
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
    ("md", "## Where training lands\n\nThe outcome of every start of the slice, as stored classes."),
    ("code", "from xorsweep.analysis import labels, basins\n"
             "lab = labels.with_attractors(ds)\n"
             "amap = basins.attractor_map(lab['attractor'])\n"
             "names = labels.decode(amap)\n"
             "names.to_series().value_counts()"),
    ("md", "## Statistics, with their controls"),
    ("code", "ent = basins.basin_entropy(amap)\n"
             "counts = basins.box_counts(amap)\n"
             "print(ent)\n"
             "counts"),
    ("md", "## A figure (figure functions take `ax=` and return their artists)"),
    ("code", "import matplotlib\n"
             "from matplotlib.figure import Figure\n"
             "from xorsweep.analysis import figures\n"
             "fig = Figure(figsize=(7, 4.5), layout='constrained')\n"
             "artists = figures.plot_attractor_map(amap, ax=fig.add_subplot())\n"
             "fig"),
    ("code", "client.close(); cluster.close()"),
]


def main():
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in CELLS]
    out = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"
    nbf.write(nb, out)
    print(out)


if __name__ == "__main__":
    main()
