from battrace.cli.main import app

app()
