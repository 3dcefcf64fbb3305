"""Batch monitoring: data quality, drift, performance and business KPIs against a reference.

Pure functions over pandas/numpy/scipy (no Evidently, no NannyML: too heavy for a Lambda)
plus one thin CloudWatch publisher. Typical use:

- training: ``profile.build_reference_profile(...)`` -> stored in the version's metadata;
- monitor: ``report.build_report(...)`` -> JSON report; ``report.headline_metrics(report)``
  -> ``publish.metric_data(...)`` -> ``publish.put_metrics(client, publish.namespace(name), ...)``.

Nothing is imported here, so importing ``publish`` alone does not load scipy.
"""
