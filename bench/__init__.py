"""Benchmarks of pulumi_vigo_vm against a raw libvirt floor and virt-install.

``python -m bench`` (from the repo root) measures, through the engine harness, what the
provider costs per VM for create / no-op preview / stop / start / delete at several stack
sizes, and prints each as a ratio against baselines measured in the same run.
See ``BENCHMARKS.md`` for a published run and what every number means.
"""
