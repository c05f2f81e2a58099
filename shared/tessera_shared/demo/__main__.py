"""``python -m tessera_shared.demo`` (the same as ``tessera demo``)."""

from tessera_shared.demo.cli import main

main()
