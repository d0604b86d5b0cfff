"""gunicorn settings for haocha: `gunicorn wsgi:app` picks this file up from the repository root.

The Chinese sentiment analyzer (jieba dictionary, lexicons, linear model: about 130 MB) and the
person-name tagger that scrubs names from published text are loaded here, in the master, before
the workers fork: they share their pages copy-on-write and no request pays for loading them. Everything else is configured on the command line or with
GUNICORN_CMD_ARGS.
"""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from core import privacy
from ratings import sentiment

logging.getLogger("jieba").setLevel(logging.WARNING)
sentiment.warm_up()
privacy.warm_up()
