"""The ``abgate`` command: a thin shell over the library.

Every :class:`~abgate.errors.AbgateError` becomes ``Error: <message>`` on stderr and exit code 1;
usage mistakes are click's (exit code 2). No traceback reaches the user.
"""

from __future__ import annotations

import sys

import click

from abgate import __version__
from abgate.cli.analyze import analyze_command
from abgate.cli.audit import audit_group
from abgate.cli.demo import demo_command
from abgate.cli.events import events_group
from abgate.cli.experiment import experiment_group
from abgate.cli.export import export_command
from abgate.cli.k8s import k8s_group
from abgate.cli.models import models_command
from abgate.cli.serve import serve_command
from abgate.cli.stats import stats_group
from abgate.cli.train import train_command
from abgate.errors import AbgateError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="abgate")
def cli() -> None:
    """A/B testing of machine-learning models in production.

    \b
    Typical first run:
      abgate demo           # train if needed, serve, replay 500 market days, write the report
      abgate train          # train both LSTM variants on the shipped market data
      abgate models         # show the registry
      abgate serve          # the A/B gateway on 127.0.0.1:8080
    """


cli.add_command(demo_command)
cli.add_command(train_command)
cli.add_command(models_command)
cli.add_command(serve_command)
cli.add_command(events_group)
cli.add_command(analyze_command)
cli.add_command(stats_group)
cli.add_command(experiment_group)
cli.add_command(audit_group)
cli.add_command(export_command)
cli.add_command(k8s_group)


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="abgate", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except AbgateError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
