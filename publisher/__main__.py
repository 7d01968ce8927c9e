from publisher.cli import app

app()
