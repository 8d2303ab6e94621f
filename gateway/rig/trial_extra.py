"""The trial's test phones need pjsua2, which only the `trial` extra installs."""
from __future__ import annotations

import importlib.util


def missing_trial_extra() -> str | None:
    """Why the trial cannot run here, or None when pjsua2 is importable."""
    if importlib.util.find_spec("pjsua2") is None:
        return ("pjsua2 is not installed: the trial's test phones come with the trial extra "
                "(pip install 'ctigw[trial]'; scripts/try installs it)")
    return None
