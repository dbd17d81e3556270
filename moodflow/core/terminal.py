"""Text for a terminal: names from other people's files (paths, track ids, class names) can hold
escape sequences that move the cursor, rewrite lines, change the window title or set
hyperlinks. What moodflow prints for a person passes through :func:`for_terminal`; files it
writes (CSV, JSON) keep every name exactly.
"""

from __future__ import annotations

import re

# ESC [ … final (CSI), ESC ] … BEL/ST (OSC), ESC P/X/^/_ … ST (DCS, SOS, PM, APC), ESC + one char;
# the same introduced by their 8-bit C1 forms (0x9b CSI, 0x9d OSC, 0x90 DCS …)
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b[ -~]?",
    re.DOTALL,
)
# C0 and C1 controls, DEL, and the bidirectional overrides that reorder what is shown
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def for_terminal(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` with terminal escape sequences removed and every other control character
    (newlines too, unless ``keep_newlines``) shown as ``?``."""
    text = _SEQUENCE.sub("", str(text))
    if keep_newlines:
        return "\n".join(_CONTROL.sub("?", line) for line in text.split("\n"))
    return _CONTROL.sub("?", text)
