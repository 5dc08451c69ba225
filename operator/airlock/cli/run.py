"""`airlock run`: the operator."""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import ValidationError


def run_main(args: argparse.Namespace) -> int:
    import kopf
    from prometheus_client import start_http_server

    from airlock.config import Settings
    from airlock.handlers import operator as handlers  # importing registers them with kopf
    from airlock.k8s.io import Clients, load_api_client
    from airlock.metrics import Metrics
    from airlock.reconciler import Runtime

    overrides = {
        k: v
        for k, v in {
            "namespaces": args.namespace,
            "metrics_port": args.metrics_port,
            "log_format": args.log_format,
            "verbose": args.verbose or None,
        }.items()
        if v is not None
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"airlock run: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    kopf.configure(
        verbose=settings.verbose,
        log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL,
    )
    logging.getLogger("airlock").setLevel(logging.DEBUG if settings.verbose else logging.INFO)
    metrics = Metrics()
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_address, registry=metrics.registry)
    handlers.register_workload_handlers(settings.workload_kinds)
    handlers.register_autoscaler_handlers(settings.hpas, settings.scaled_objects)
    runtime = Runtime(clients=Clients(load_api_client()), settings=settings, metrics=metrics)
    kopf.run(
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        standalone=True,
        memo=kopf.Memo(runtime=runtime),
        liveness_endpoint=None,
    )
    return 0
