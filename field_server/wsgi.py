"""The WSGI entry for gunicorn and other servers: ``gunicorn 'field_server.wsgi:app'``."""

from field_server.app import create_app
from field_server.private_files import keep_private

app = create_app()
_config = app.extensions["qazba"].config
keep_private(_config.data_dir, _config.database_url)
