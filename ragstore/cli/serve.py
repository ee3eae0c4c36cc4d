"""``ragstore serve --ray``: a store sharded and replicated over a Ray cluster, behind one REST v2 router.

``--shards N --replicas R --path DIR`` deploys ``N x R`` Ray Serve deployments (replica ``j`` of shard
``i`` keeps its store in ``DIR/shard-<i>/replica-<j>`` on its node's disk) and a router that answers
Chroma's REST v2 API on ``--host:--port`` with ragstore's auth and limits
(:mod:`ragstore.distributed.serve`). It joins the Ray cluster at ``--ray-address`` (or ``RAY_ADDRESS``),
else starts a local Ray instance, and runs until SIGINT or SIGTERM. An address where nothing answers is one
line and exit status 1 within seconds (:func:`ragstore.distributed.runtime.check_reachable`), not minutes of
Ray's silent retries.

Example:
    >>> serve_command.name
    'serve'

"""

from __future__ import annotations

import signal
import threading
import types

import click

from ragstore.cli.run import split_names


@click.command("serve")
@click.option("--ray", "use_ray", is_flag=True, help="Serve on Ray Serve (the only mode so far; 'ragstore run' serves one store).")
@click.option("--shards", default=2, show_default=True, type=click.IntRange(1), help="Shards the records are spread over (keep it fixed).")
@click.option(
    "--replicas", default=1, show_default=True, type=click.IntRange(1), help="Replicas of each shard; a write reaches every live one."
)
@click.option("--path", default="./ragstore_shards", show_default=True, help="Root folder of the replicas' stores (on each node's disk).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the router binds (0.0.0.0 exposes it to the network).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port of the router.")
@click.option(
    "--ray-address",
    default=None,
    metavar="ADDRESS",
    help="Ray cluster to join (HOST:6379, auto, ray://HOST:10001) [env RAY_ADDRESS]; default: a local instance.",
)
@click.option("--auth-token", envvar="RAGSTORE_AUTH_TOKEN", default=None, help="Require this token [env RAGSTORE_AUTH_TOKEN].")
@click.option("--auth-token-file", envvar="RAGSTORE_AUTH_TOKEN_FILE", default=None, metavar="PATH", help="Read the token from this file.")
@click.option("--allow-reset/--no-allow-reset", default=False, show_default=True, help="Allow POST /api/v2/reset to delete everything.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME", help="Also answer requests whose Host header is NAME.")
@click.option(
    "--replica-cpus", default=None, type=click.FloatRange(0.01), help="Logical CPUs per replica (default: the cluster's shared out)."
)
def serve_command(
    use_ray: bool,
    shards: int,
    replicas: int,
    path: str,
    host: str,
    port: int,
    ray_address: str | None,
    auth_token: str | None,
    auth_token_file: str | None,
    allow_reset: bool,
    allow_hosts: tuple[str, ...],
    replica_cpus: float | None,
) -> None:
    """Serve a sharded, replicated store on Ray Serve until SIGINT or SIGTERM."""
    if not use_ray:
        raise click.UsageError("ragstore serve needs --ray (to serve one store without Ray: ragstore run)")
    from ragstore.distributed.runtime import RayUnreachableError, check_reachable, ray_session
    from ragstore.distributed.serve import start_service, stop_service
    from ragstore.server.run import StartupError, read_token_file

    try:
        if auth_token and auth_token_file:
            raise StartupError("give the token once: --auth-token or --auth-token-file")
        token = read_token_file(auth_token_file) if auth_token_file else auth_token
        check_reachable(ray_address)  # before Ray's own connection retries, which wait for minutes without a word
    except (StartupError, RayUnreachableError) as exc:
        raise click.ClickException(str(exc)) from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: types.FrameType | None) -> None:
        stop.set()

    with ray_session(ray_address, log_to_driver=False):
        url = start_service(
            path,
            shards,
            replicas,
            host=host,
            port=port,
            auth_token=token,
            allow_reset=allow_reset,
            allow_hosts=tuple(split_names(allow_hosts)),
            replica_cpus=replica_cpus,
        )
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, on_signal)
            click.echo(f"ragstore serving {path} at {url} ({shards} shards x {replicas} replicas on Ray, auth {'on' if token else 'off'})")
            stop.wait()
        finally:
            stop_service()
