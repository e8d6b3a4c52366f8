"""The contract between the platform program, the policy pack, the dashboards and both apps.

Every fact that two of those rooms rely on is defined once here and imported: names, ports,
label keys, environment variable names, metric names, registry aliases and the retrain and
alert thresholds, with the one definition of drift and of an accuracy drop. This package has
no dependencies and imports nothing from the rest of the tree; everything else points at it.
`docs/contracts.md` is checked against it by `tests/contract`.
"""
