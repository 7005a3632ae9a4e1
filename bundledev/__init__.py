"""The bundle's plugin for localcore: what ``make run`` adds to a plain local core.

localcore runs any component and knows none of ours; this package is where the bundle teaches
it the rest, through localcore's one plugin seam (``localcore.plugins``, registered in the root
``pyproject.toml`` under ``[project.entry-points."localcore.plugins"]``):

- ``cloud_description.py``: ``bundle.yaml`` (plus the CDK app's device policy and the fleet's
  ShadowManager sync) as the embedded cloud's description;
- ``source_zip.py``: the artifact source that builds ``edgebundle.zip`` from the working tree
  when ``make build`` has not been run;
- ``live_view.py``: the live view of ``make run`` (readings, alerts, inspections, backlog).

It is its own package, not part of ``bundlespec`` or ``bundlebuild``, because it depends on
localcore (and rich), which neither the device artifacts nor the CDK app need: nothing on a
gateway or in the cloud imports it.
"""
