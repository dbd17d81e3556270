"""moodflow: a reproducible music-emotion-recognition pipeline and feature store."""

import os as _os

__version__ = "0.1.0"
# The parent process when moodflow was first imported: a stage whose `dvc repro` is killed while
# it still imports its libraries knows it was orphaned (moodflow.core.orphans).
_STARTED_BY = _os.getppid()
