"""One module per command; importing this package registers them all on `probe.cliapp.app`."""

from probe.commands import version  # noqa: F401
