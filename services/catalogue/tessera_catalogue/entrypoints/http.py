"""HTTP API of the catalogue service: the command API (bearer token) and the public catalogue."""

from tessera_catalogue.entrypoints import commands, public

routers = (commands.router, public.router)
