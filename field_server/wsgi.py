"""The WSGI entry for gunicorn and other servers: ``gunicorn 'field_server.wsgi:app'``."""

from field_server.app import create_app

app = create_app()
