"""The WSGI entry for production serving: `gunicorn 'skill.wsgi:app'`.

Configuration comes from the environment, read once per worker (see skill/config.py);
TRUST_GUIDE_VERIFY=0 turns request verification off, for local development only.
"""

from skill.config import Settings
from skill.web import create_app_from_settings

settings = Settings.from_env()
app = create_app_from_settings(settings, verify=settings.verify)
