"""The results format: the one contract between the runner that writes a run and the reports.

- :mod:`~evalkit.results.schema` — the columns of a run's tables, each documented;
- :mod:`~evalkit.results.summary` — per codec × bitrate × domain statistics, computed once;
- :mod:`~evalkit.results.rundir` — the run folder: writing its tables, loading it back;
- :mod:`~evalkit.results.directions` — which way is better, recorded in ``run.json``.

Nothing here imports the pipeline, the codecs or the metric plug-ins: a stored run can be
reported on a machine that has none of them installed.
"""

#: the run folder's settings, provenance, directions and status
RUN_JSON = "run.json"
