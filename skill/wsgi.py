"""The WSGI entry for production serving: `gunicorn 'skill.wsgi:app'`.

Configuration comes from the environment, read once per worker (see skill/config.py);
TRUST_GUIDE_VERIFY=0 turns request verification off, for local development only.
"""

import logging

from skill.config import Settings
from skill.web import create_app_from_settings

settings = Settings.from_env()
# gunicorn configures its own loggers only: give the skill's one line per request a handler
logging.basicConfig(
    level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
)
app = create_app_from_settings(settings, verify=settings.verify)
