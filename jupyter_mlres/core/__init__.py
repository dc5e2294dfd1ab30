"""Pure core of jupyter_mlres: spec model, quantities, validation, rendering, status.

Nothing in this package performs I/O or imports kubernetes, IPython, ipywidgets, jupyter_server
or subprocess (checked by ``tests/test_layers.py``).
"""
