"""Runs a notebook end to end on the unet-typescript kernel with jupyter_client + nbclient, the way
Jupyter itself would (kernelspec lookup, connection file, signed messages), and prints a JSON summary
of every cell's outputs. Usage: run-notebook.py NOTEBOOK KERNEL_NAME TIMEOUT_S [PARAMS_TS]
PARAMS_TS replaces the source of the cell tagged "parameters" (as papermill does)."""
import json
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

path, kernel_name, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
nb = nbformat.read(path, as_version=4)
if len(sys.argv) > 4:
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = sys.argv[4]
client = NotebookClient(
    nb,
    kernel_name=kernel_name,
    timeout=timeout,
    startup_timeout=60,
    resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
)
error = None
try:
    client.execute()
except CellExecutionError as e:
    error = str(e)

cells = []
for cell in nb.cells:
    if cell.cell_type != "code":
        continue
    outputs = []
    for out in cell.get("outputs", []):
        entry = {"output_type": out.output_type}
        if out.output_type == "stream":
            entry["name"] = out.name
            entry["text"] = out.text
        elif out.output_type in ("display_data", "execute_result"):
            entry["mime"] = sorted(out.data.keys())
            entry["text"] = out.data.get("text/plain", "")
            entry["png_bytes"] = len(out.data.get("image/png", "")) * 3 // 4
            entry["svg"] = out.data.get("image/svg+xml", "")[:200]
            entry["display_id"] = out.get("transient", {}).get("display_id") if hasattr(out, "get") else None
        elif out.output_type == "error":
            entry["ename"] = out.ename
            entry["evalue"] = out.evalue
        outputs.append(entry)
    cells.append({"execution_count": cell.execution_count, "outputs": outputs})
print(json.dumps({"error": error, "cells": cells}))
