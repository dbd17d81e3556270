"""Shared infrastructure: atomic writes, the registry, params.yaml and typed settings, logging,
package versions."""
