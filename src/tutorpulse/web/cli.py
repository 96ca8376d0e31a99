"""CLI commands of the application shell: users, API keys and ``serve``.

Registered by ``tutorpulse.cli``: ``app.add_typer(users_app, name="users")``,
``app.add_typer(keys_app, name="keys")`` and ``app.command("serve")(serve)``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core import auth
from tutorpulse.core.audit import Actor, record_audit
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.errors import AppError
from tutorpulse.core.settings import get_settings

console = Console()
err_console = Console(stderr=True)

users_app = typer.Typer(
    help="Dashboard users (admin, coach, analyst, viewer).", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys (scopes: read, write, ingest, admin).", no_args_is_help=True)

CLI_ACTOR = Actor(kind="system", id=None, name="cli", scopes=frozenset({"admin"}))


def _factory() -> sessionmaker[Session]:
    settings = get_settings()
    return make_session_factory(create_db_engine(settings.resolved_database_url()))


def _fail(exc: AppError) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {exc.message}")
    return typer.Exit(code=1)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Argument(help="Login email.")],
    role: Annotated[str, typer.Option("--role", help="admin, coach, analyst or viewer.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    password: Annotated[
        str | None,
        typer.Option("--password", help="Password (prompted, hidden, when omitted)."),
    ] = None,
) -> None:
    """Create a dashboard user."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with unit_of_work(_factory()) as db:
            user = auth.create_user(db, email=email, password=password, role=role, name=name)
            record_audit(
                db,
                actor=CLI_ACTOR,
                action="user.created",
                target_type="user",
                target_id=str(user.id),
                details={"email": user.email, "role": user.role},
            )
            user_id, address = user.id, user.email
    except AppError as exc:
        raise _fail(exc) from None
    console.print(f"Created user {user_id} {address} ({role})")


@users_app.command("list")
def users_list() -> None:
    """List users."""
    with unit_of_work(_factory()) as db:
        users = auth.list_users(db)
        table = Table("id", "email", "name", "role", "active", "last login (UTC)")
        for u in users:
            table.add_row(
                str(u.id),
                u.email,
                u.name,
                u.role,
                "yes" if u.is_active else "no",
                u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "—",
            )
    console.print(table)


@keys_app.command("create")
def keys_create(
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="read, write, ingest or admin; repeat for several."),
    ],
    name: Annotated[str, typer.Option("--name", help="What the key is for.")] = "cli key",
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    try:
        with unit_of_work(_factory()) as db:
            key, plaintext = auth.create_api_key(db, name=name, scopes=scope)
            record_audit(
                db,
                actor=CLI_ACTOR,
                action="api_key.created",
                target_type="api_key",
                target_id=str(key.id),
                details={"name": key.name, "scopes": key.scopes},
            )
            key_id, scopes = key.id, key.scopes
    except AppError as exc:
        raise _fail(exc) from None
    err_console.print(f"Created API key {key_id} ({', '.join(scopes)}). It is shown only once:")
    typer.echo(plaintext)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="Key id (see keys list).")]) -> None:
    """Revoke an API key; requests using it are refused from now on."""
    try:
        with unit_of_work(_factory()) as db:
            key = auth.revoke_api_key(db, key_id=key_id)
            record_audit(
                db,
                actor=CLI_ACTOR,
                action="api_key.revoked",
                target_type="api_key",
                target_id=str(key.id),
            )
    except AppError as exc:
        raise _fail(exc) from None
    console.print(f"Revoked API key {key_id}")


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (prefix, scopes, last use; never the key)."""
    with unit_of_work(_factory()) as db:
        table = Table("id", "name", "prefix", "scopes", "created", "last used", "revoked")
        for k in auth.list_api_keys(db):
            table.add_row(
                str(k.id),
                k.name,
                k.prefix + "…",
                ",".join(k.scopes),
                k.created_at.strftime("%Y-%m-%d %H:%M"),
                k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "never",
                k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else "—",
            )
    console.print(table)


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: settings.host).")] = None,
    port: Annotated[int, typer.Option(help="Port.")] = 3000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the dashboard and API with uvicorn (embedded scheduler per settings)."""
    import uvicorn

    from tutorpulse.core.logging import configure_logging

    settings = get_settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    bind = host or settings.host
    if workers > 1:
        # Each worker process builds its own app (and engine) from the settings.
        uvicorn.run(
            "tutorpulse.app:create_app",
            factory=True,
            workers=workers,
            host=bind,
            port=port,
            log_config=None,
            access_log=False,
            proxy_headers=True,
        )
    else:
        from tutorpulse.app import create_app

        uvicorn.run(
            create_app(settings),
            host=bind,
            port=port,
            log_config=None,
            access_log=False,
            proxy_headers=True,
        )
