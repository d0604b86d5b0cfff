"""gunicorn settings for haocha: `gunicorn wsgi:app` picks this file up from the repository root.

The Chinese sentiment analyzer (jieba dictionary, lexicons, linear model: about 130 MB) is
loaded here, in the master, before the workers fork: they share its pages copy-on-write and no
rating pays for loading it. Everything else is configured on the command line or with
GUNICORN_CMD_ARGS.
"""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ratings.sentiment import warm_up

logging.getLogger("jieba").setLevel(logging.WARNING)
warm_up()
