"""Pure decisions over models and `now`: no kopf, no kubernetes client, no I/O."""
