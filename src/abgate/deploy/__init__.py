"""Kubernetes manifests for an experiment: ``abgate k8s render``.

Two targets, one module each, sharing :mod:`abgate.deploy.common`:

- :mod:`abgate.deploy.seldon` — Seldon Core v2 ``Model``/``Experiment`` resources (BSL 1.1).
- :mod:`abgate.deploy.gateway` — the abgate gateway as a Deployment in front of KServe or MLServer
  (both Apache-2.0), logging to PostgreSQL.

:func:`abgate.deploy.render.render_base` writes either as a kustomize base.
"""
