from smotext_private.cli import run

run()
