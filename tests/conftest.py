pytest_plugins = ["tessera_shared.testing.fixtures"]
