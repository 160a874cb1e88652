"""``vidsearch ui``: a local web page to search the library and watch each hit at its time.

The server (:mod:`vidsearch.ui.server`) is Python's own ``http.server``: the page needs a handful of
JSON answers and files streamed with byte ranges, for one person on this machine, so a web framework
would add dependencies and nothing the page uses. The page itself (``static/``) is plain HTML, CSS
and JavaScript, with no build step and nothing fetched from elsewhere, so it works offline.
"""

from vidsearch.ui.server import CONTROLS, Control, UiServer

__all__ = ["CONTROLS", "Control", "UiServer"]
