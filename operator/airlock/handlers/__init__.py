"""kopf handlers: parse, fetch, decide, apply, report."""
