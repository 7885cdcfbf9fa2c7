"""The audit step of write-audit-publish: a great-expectations checkpoint over the built marts."""

from pipelines.audit.checkpoint import AuditResult, run_audit

__all__ = ["AuditResult", "run_audit"]
