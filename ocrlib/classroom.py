"""The server behind ``python -m ocrlib.app`` for a class: Voila, with a door in front of every URL.

``python -m ocrlib.app`` runs ``python -m ocrlib.classroom NOTEBOOK [Voila's options]``; this module is Voila
(``ClassroomVoila``, a subclass) with three things a classroom needs and Voila lacks:

- **A class password.** With ``OCRLIB_CLASS_PASSWORD`` set in its environment (not on its command line, where
  anyone on the machine could read it), every URL (the page, ``/api/kernels``, every kernel websocket, every
  file) answers 403 until the browser has typed the password once on the page's small form (``/ocrlib/login``);
  a signed cookie then admits it. Ten wrong tries a minute from one address, and that address waits.
- **A cap.** At most ``max_pages`` pages (kernels) at once: the next page gets "The class is full" (503) and
  starts nothing.
- **Vanished pages freed.** A page that closes says goodbye and its kernel ends at once (Voila does that). A
  page that vanishes (a phone locked, a crashed browser, Wi-Fi gone) says nothing; its websocket closes when
  the server's pings go unanswered, and a kernel with no open connection for ``grace_seconds`` is shut down.
  An open page with nobody drawing keeps Voila's idle rule (``--idle-minutes``).

And a **teacher's page**, ``/ocrlib/share``, answered only to this computer: the address students open, as a
QR code to put on the projector, and the class password.
"""

import hmac
import html
import inspect
import ipaddress
import os
import sys
import time
from collections import defaultdict, deque

import segno
from jupyter_core.utils import ensure_async
from tornado import web
from tornado.ioloop import PeriodicCallback
from traitlets import Float, Int
from voila.app import Voila

PASSWORD_VARIABLE = "OCRLIB_CLASS_PASSWORD"
ADDRESS_VARIABLE = "OCRLIB_CLASS_ADDRESS"   # the address students open, for the teacher's page
SHARE_PATH = "/ocrlib/share"
COOKIE = "ocrlib_class"
LOGIN_PATH = "/ocrlib/login"
LOGIN_TRIES = 10            # wrong passwords a minute from one address, before it must wait
PING_SECONDS = 20           # the server pings every page's websocket this often ...
PONG_SECONDS = 45           # ... and closes one that has not answered for this long: a vanished page

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body {{ font: 18px/1.5 system-ui, sans-serif; max-width: 34em; margin: 2em auto; padding: 0 1em; }}
input, button {{ font: inherit; padding: 0.4em 0.6em; min-height: 44px; }} .error {{ color: #b00020; }}
form, label {{ display: grid; gap: 0.6em; max-width: 20em; }} button {{ justify-self: start; }}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""


def page(title, body):
    return PAGE.format(title=html.escape(title), body=body)


def login_page(error=""):
    error = f"<p class='error' role='alert'>{html.escape(error)}</p>" if error else ""
    return page("The drawing pad", f"""<p>Type the class password your teacher gave you.</p>{error}
<form method="post" action="{LOGIN_PATH}"><label>Class password
<input name="password" type="password" autocomplete="current-password" autofocus required></label>
<button type="submit">Open the pad</button></form>""")


FULL_PAGE = page("The class is full", "<p>The drawing pad already has as many pages open as this computer can "
                 "hold. Close a page you no longer use, or wait a little, then reload this one.</p>")


class ClassroomVoila(Voila):
    """Voila with a class password, a cap on pages, and vanished pages freed (the module docstring)."""

    max_pages = Int(0, help="at most this many pages (kernels) at once; 0 for no cap").tag(config=True)
    grace_seconds = Float(120.0, help="shut down a kernel with no open connection for this long").tag(config=True)

    def init_handlers(self):
        handlers = [(pattern, guarded(handler, self), *rest) for pattern, handler, *rest in super().init_handlers()]
        return [(LOGIN_PATH, LoginHandler, {"server": self}), (SHARE_PATH, ShareHandler, {"server": self})] + handlers

    def start(self):
        self.password = os.environ.pop(PASSWORD_VARIABLE, "") or None    # not passed on to the kernels
        self.address = os.environ.pop(ADDRESS_VARIABLE, "") or None
        self.pages_opening = 0
        self.unconnected_since = {}                                       # kernel id -> monotonic time
        self.failed_logins = defaultdict(deque)                           # address -> times of wrong tries
        # jupyter_server pings every page's websocket (in ms) and closes one whose last pong is older than the
        # timeout, checked at each ping: the timeout must span more than one interval
        self.tornado_settings = {**self.tornado_settings, "ws_ping_interval": PING_SECONDS * 1000,
                                 "ws_ping_timeout": PONG_SECONDS * 1000}
        interval = max(1.0, min(self.grace_seconds / 4, 30.0))
        PeriodicCallback(self.free_unconnected_kernels, interval * 1000).start()
        super().start()

    # --- the door ---

    def admitted(self, handler):
        """Whether the request comes from a browser that typed the class password (always, without one)."""
        if self.password is None:
            return True
        cookie = handler.get_signed_cookie(COOKIE, max_age_days=1)
        return cookie is not None and hmac.compare_digest(cookie, self.password_tag())

    def password_tag(self):
        """What the cookie holds: a digest of the password, so that a new password turns old cookies away."""
        return hmac.new(self.password.encode(), b"ocrlib class", "sha256").hexdigest().encode()

    def full(self):
        """Whether one more page would go over ``max_pages`` (pages being opened count as well)."""
        return bool(self.max_pages) and len(self.kernel_manager.list_kernel_ids()) + self.pages_opening >= \
            self.max_pages

    # --- vanished pages ---

    async def free_unconnected_kernels(self):
        """Shut down every kernel that has had no open connection for ``grace_seconds``."""
        manager, now = self.kernel_manager, time.monotonic()
        connections = getattr(manager, "_kernel_connections", {})
        for kernel_id in list(manager.list_kernel_ids()):
            if connections.get(kernel_id, 0) > 0:
                self.unconnected_since.pop(kernel_id, None)
                continue
            since = self.unconnected_since.setdefault(kernel_id, now)
            if now - since >= self.grace_seconds:
                self.log.info("Shutting down kernel %s: no page connected for %.0f s", kernel_id, now - since)
                self.unconnected_since.pop(kernel_id, None)
                try:
                    await manager.shutdown_kernel(kernel_id)
                except Exception as err:                                    # noqa: BLE001 (the loop goes on)
                    self.log.warning("Could not shut down kernel %s: %s", kernel_id, err)
        for kernel_id in set(self.unconnected_since) - set(manager.list_kernel_ids()):
            del self.unconnected_since[kernel_id]


def guarded(handler_class, server):
    """``handler_class`` behind the door: 403 without the class password (the page answers with its form),
    and the notebook page 503 when the class is full."""
    is_page = handler_class.__name__ == "TornadoVoilaHandler"

    class Guarded(handler_class):
        async def prepare(self):
            if not server.admitted(self):
                if is_page and self.request.method == "GET":
                    self.set_status(403)
                    self.finish(login_page())
                    return
                raise web.HTTPError(403, "the class password is needed")
            if is_page:
                if server.full():
                    self.set_status(503)
                    self.finish(FULL_PAGE)
                    return
                server.pages_opening += 1               # a place held for this page until its kernel runs
                self._opening = True
            result = super().prepare()
            if inspect.isawaitable(result):
                await result

        @property
        def kernel_manager(self):
            manager = self.settings["kernel_manager"]
            return KernelStart(manager, self._kernel_started) if getattr(self, "_opening", False) else manager

        def _kernel_started(self):
            """The page's kernel runs: it counts as a kernel now, no longer as a page being opened."""
            if getattr(self, "_opening", False):
                server.pages_opening -= 1
                self._opening = False

        def on_finish(self):
            self._kernel_started()                      # or the page ended without one
            super().on_finish()

    Guarded.__name__ = Guarded.__qualname__ = handler_class.__name__
    return Guarded


class KernelStart:
    """The kernel manager as one page's request sees it: the same, but starting a kernel calls ``started``."""

    def __init__(self, manager, started):
        self._manager, self._started = manager, started

    def __getattr__(self, name):
        return getattr(self._manager, name)

    async def start_kernel(self, **kwargs):
        kernel_id = await ensure_async(self._manager.start_kernel(**kwargs))
        self._started()
        return kernel_id


def qr_svg(text):
    """``text`` as a QR code, an inline SVG element that scales with the page."""
    return segno.make(text, error="m").svg_inline(scale=8, border=2, omitsize=True)


class ShareHandler(web.RequestHandler):
    """The teacher's page: the students' address as a QR code, and the class password; for this computer only."""

    def initialize(self, server):
        self.server = server

    def get(self):
        if not ipaddress.ip_address(self.request.remote_ip).is_loopback:
            raise web.HTTPError(403, "the teacher's page is shown on the teacher's computer only")
        address = self.server.address or f"{self.request.protocol}://{self.request.host}/"
        password = (f"<p class='password'>Class password: <b>{html.escape(self.server.password)}</b></p>"
                    if self.server.password else "")
        self.finish(page("Open the drawing pad", f"""<style>svg {{ width: min(60vh, 90vw); height: auto; }}
.address {{ font-size: 1.6em; }} .password {{ font-size: 1.6em; }}</style>
<p>Scan this with a phone's camera, or type the address into a browser.</p>
<p class='address'><b>{html.escape(address)}</b></p>{password}
<div role="img" aria-label="A QR code of {html.escape(address)}">{qr_svg(address)}</div>"""))


class LoginHandler(web.RequestHandler):
    """The class password's form posts here: right, a cookie and back to the pad; wrong, 403 and the form."""

    def initialize(self, server):
        self.server = server

    def get(self):
        if self.server.admitted(self):
            self.redirect("/")
            return
        self.set_status(403)
        self.finish(login_page())

    def post(self):
        server, address = self.server, self.request.remote_ip
        if server.password is None:
            self.redirect("/")
            return
        tries, now = server.failed_logins[address], time.monotonic()
        while tries and now - tries[0] > 60:
            tries.popleft()
        if len(tries) >= LOGIN_TRIES:
            self.set_status(429)
            self.finish(login_page(f"Too many wrong passwords from this device: wait "
                                   f"{60 - int(now - tries[0])} seconds, then try again."))
            return
        typed = self.get_body_argument("password", "")
        if not hmac.compare_digest(typed.encode(), server.password.encode()):
            tries.append(now)
            self.set_status(403)
            self.finish(login_page("That is not the class password."))
            return
        self.set_signed_cookie(COOKIE, server.password_tag(), expires_days=1, httponly=True, samesite="Strict")
        self.redirect("/")


def main(argv=None):
    ClassroomVoila.launch_instance(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
