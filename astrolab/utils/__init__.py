"""Small shared utilities (instantiation under the execution whitelist, run directories, logging)."""
