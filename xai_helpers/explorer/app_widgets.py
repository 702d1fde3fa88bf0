"""What every explorer shares: a form of ipywidgets whose changes recompute a view in one background thread, a
live figure, a status line with the time each answer took, a progress bar, and export.

Why a background thread: an observer that computes blocks the kernel, so the browser's next clicks queue up and
the form looks frozen while LIME or TCAV run. Requests go to one worker thread, newest first: a request that
arrives while another computes makes the older one stop at its next check and be dropped, so what is shown is
always the answer to the last thing the user asked. One worker (not one thread per request) because captum puts
hooks on the model's modules, and two explanations of one model at once would see each other's hooks.

Every control gets a stable CSS class ``xai-<app>-<control>`` (browser tests find controls by it), and so do
the figure (``xai-<app>-figure``) and the status line (``xai-<app>-status``)."""
from __future__ import annotations

import datetime as dt
import html
import json
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

import ipywidgets as widgets
from IPython.display import display

from ..study import finite_or_none, save_figure, write_json_atomic
from .figures import figure_png


#: Held while any explorer computes. Explorers share the study's models, and captum's hooks on a model's modules
#: would mix two explanations computed at once in two apps' workers (it raised "differentiated Tensor … not used
#: in the graph" when a timing form and a shown form both explained the plain CNN). PyTorch's forward-mode AD levels
#: are process-wide too: a Jacobian computed in the kernel's thread (a control's observer) while a worker computed
#: another raised "Trying to access a forward AD level with an invalid index". Code that computes outside a worker
#: takes it as well; re-entrant, since a worker's job calls the same code while holding it.
COMPUTING = threading.RLock()


class Worker:
    """One background thread running the newest submitted job; an older job still running is told to stop
    (its ``cancelled()`` turns true) and its result is dropped.

    The thread stays for the next job rather than ending when idle: each new thread that computes starts its own
    team of OpenMP threads for PyTorch, and a fresh team made the attribution explorer's answers 0.1–0.3 s slower
    (a ResNet-18 at 64 px on 2 cores: about 0.7 s of work answered in 1.1–1.4 s)."""

    def __init__(self):
        self._wake = threading.Condition()
        self._generation = 0
        self._pending: tuple[int, Callable] | None = None
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, job: Callable[[Callable[[], bool]], None]) -> None:
        """Run ``job(cancelled)`` in the worker; ``cancelled()`` is true once a newer job was submitted."""
        with self._wake:
            self._generation += 1
            self._pending = (self._generation, job)
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="xai-explorer", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _loop(self):
        while True:
            with self._wake:
                while self._pending is None:
                    self._idle.set()
                    self._wake.wait()
                generation, job = self._pending
                self._pending = None
            try:
                job(lambda: generation != self._generation)
            except Exception:  # noqa: BLE001 - the worker must outlive a job (jobs show their own errors)
                traceback.print_exc()

    def wait(self, timeout: float = 120.0) -> bool:
        """Block until every submitted job has finished (tests and headless runs); False on timeout."""
        return self._idle.wait(timeout)


#: How long an export waits for the answer being computed (the kernel is busy meanwhile: the button blocks it).
EXPORT_WAIT_SECONDS = 120.0


class ExplorerApp:
    """An explorer: subclasses define ``controls`` (through :meth:`add`), :meth:`compute` (the view, in the
    worker) and :meth:`draw` (a Figure of a view); this class wires them to the figure, status and export."""

    name = "explorer"
    title = "Explorer"

    def __init__(self, run_path: str | Path | None = None):
        self.run_path = Path(run_path) if run_path is not None else None
        self.controls: dict[str, widgets.Widget] = {}
        self.view: dict | None = None
        self.error: str | None = None
        self.error_traceback: str | None = None
        self.seconds: float | None = None  # wall time of the last answer (compute and draw)
        self.complete_seconds: float | None = None  # ... until its refined view was drawn too (see refine)
        self.renders = 0  # answers shown so far
        self.worker = Worker()
        self.figure = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.status = widgets.HTML()
        self.progress = widgets.FloatProgress(value=0, min=0, max=1, layout=widgets.Layout(width="220px"))
        self.progress.layout.visibility = "hidden"
        self.export_button = widgets.Button(description="export PNG + JSON", icon="download",
                                            layout=widgets.Layout(width="auto"))  # its whole label
        self.export_button.on_click(lambda _: self._export_clicked())
        for key, widget in (("figure", self.figure), ("status", self.status), ("progress", self.progress),
                            ("export", self.export_button)):
            widget.add_class(f"xai-{self.name}-{key}")
        self._suspended = False

    # -------------------------------------------------------------------- building the form
    def add(self, key: str, widget: widgets.Widget, recompute: bool = True) -> widgets.Widget:
        """Register a control under ``key`` (CSS class ``xai-<app>-<key>``); changing it recomputes the view."""
        widget.add_class(f"xai-{self.name}-{key}")
        self.controls[key] = widget
        if recompute and hasattr(widget, "value"):
            widget.observe(lambda change: self.request(), names="value")
        return widget

    def value(self, key: str):
        return self.controls[key].value

    def set_values(self, **values) -> None:
        """Set several controls and recompute once (not once per control)."""
        self._suspended = True
        try:
            for key, value in values.items():
                self.controls[key].value = value
        finally:
            self._suspended = False
        self.request()

    @staticmethod
    def columns(*boxes: widgets.Widget) -> widgets.Box:
        """Side-by-side columns that wrap onto the next line where the notebook is narrower than they are (a
        JupyterLab with the file browser open), so that no control is cut off at the right."""
        return widgets.HBox(list(boxes), layout=widgets.Layout(flex_flow="row wrap", width="100%"))

    def layout(self) -> widgets.Widget:
        """The form (subclasses arrange their controls; the default stacks them)."""
        return widgets.VBox(list(self.controls.values()))

    def widget(self) -> widgets.Widget:
        header = widgets.HTML(f"<b>{html.escape(self.title)}</b>")
        footer = self.columns(self.progress, self.status, self.export_button)
        box = widgets.VBox([header, self.layout(), footer, self.figure])
        box.add_class(f"xai-{self.name}")
        return box

    # -------------------------------------------------------------------- computing and drawing
    def is_slow(self) -> bool:
        """Whether the current request shows a progress bar (subclasses say which settings are slow)."""
        return False

    def compute(self, progress: Callable[[float], None], cancelled: Callable[[], bool]) -> dict | None:
        raise NotImplementedError

    def draw(self, view: dict):
        raise NotImplementedError

    def request(self) -> None:
        """Recompute the view for the current controls, in the worker (the form stays responsive)."""
        if self._suspended:
            return
        self.worker.submit(self._job)

    def wait(self, timeout: float = 120.0) -> "ExplorerApp":
        if not self.worker.wait(timeout):
            raise TimeoutError(f"{self.title}: no answer within {timeout} s")
        return self

    def _job(self, cancelled: Callable[[], bool]) -> None:
        with COMPUTING:  # timed from here: waiting for another app's answer is not this answer's time
            self._answer(cancelled)

    def _answer(self, cancelled: Callable[[], bool]) -> None:
        started = time.perf_counter()
        view = self._step(lambda progress: self.compute(progress, cancelled), cancelled, self.is_slow())
        if view is None:
            return
        self.seconds = time.perf_counter() - started
        self.complete_seconds = None
        self.status.value = html.escape(self.describe(view)) + f" · answered in {self.seconds:.2f} s"
        if not self.refines(view):
            self.complete_seconds = self.seconds
            return
        self.status.value += " · " + html.escape(self.refining)
        view = self._step(lambda progress: self.refine(view, progress, cancelled), cancelled, False)
        if view is None:
            return
        self.complete_seconds = time.perf_counter() - started
        self.status.value = (html.escape(self.describe(view)) + f" · answered in {self.seconds:.2f} s, "
                             f"complete in {self.complete_seconds:.2f} s")

    def _step(self, work: Callable, cancelled: Callable[[], bool], slow: bool) -> dict | None:
        """Compute a view with ``work(progress)`` and show it; None where it failed (the form shows the error)
        or a newer request superseded it."""
        self.progress.value = 0
        self.progress.layout.visibility = "visible" if slow else "hidden"
        if slow:
            self.status.value = "computing … (a slow method: the form stays usable)"
        try:
            view = work(lambda share: setattr(self.progress, "value", share))
            if view is None or cancelled():
                return None
            png = figure_png(self.draw(view))
        except Exception as err:  # shown in the form: an explorer that dies silently looks frozen
            self.error = f"{type(err).__name__}: {err}"
            self.error_traceback = traceback.format_exc()  # for whoever debugs the app: the form shows the message
            self.status.value = f"<span style='color:#b00'>{html.escape(self.error)}</span>"
            return None
        finally:
            self.progress.layout.visibility = "hidden"
        self.view, self.error = view, None
        self.figure.value = png
        self.renders += 1
        return view

    #: What the status line says while :meth:`refine` runs.
    refining = "completing …"

    def refines(self, view: dict) -> bool:
        """Whether a shown view gets a second, complete answer from :meth:`refine` (subclasses whose views have a
        fast part to show first and a slower part to add)."""
        return False

    def refine(self, view: dict, progress: Callable[[float], None], cancelled: Callable[[], bool]) -> dict | None:
        """The shown ``view`` completed (in the worker, after the first answer was drawn); None if cancelled."""
        raise NotImplementedError

    def describe(self, view: dict) -> str:
        """One line about the shown view (subclasses add what matters)."""
        return ""

    # -------------------------------------------------------------------- output
    def record(self, view: dict) -> dict:
        """The view's numbers as JSON (subclasses)."""
        return {}

    def export(self) -> tuple[Path, Path]:
        """Write the shown view as ``exports/<app>-<UTC time>.png`` and its numbers as ``.json`` in the run folder."""
        # The answer to the current controls, complete: wait while the worker computes one (a newer request, or the
        # curves that complete the shown view). Exported at once, the record held an older view or one without its
        # curves, and that answer's arrival then replaced the "exported" status line before a browser saw it.
        if not self.worker.wait(EXPORT_WAIT_SECONDS):
            raise TimeoutError(f"{self.title}: the answer to the current settings took over {EXPORT_WAIT_SECONDS} s; "
                               "nothing was exported (export again once it is shown)")
        if self.view is None:
            raise RuntimeError(f"{self.title}: nothing to export yet")
        if self.run_path is None:
            raise RuntimeError(f"{self.title}: no run folder to export into (pass run_path)")
        folder = self.run_path / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{self.name}-{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}"
        png = folder / f"{stem}.png"
        png.write_bytes(self.figure.value)
        values = {key: control.value for key, control in self.controls.items()
                  if hasattr(control, "value") and _plain(control.value)}  # buttons have no value
        data = write_json_atomic(folder / f"{stem}.json", finite_or_none({"app": self.name, "controls": values,
                                                                          **self.record(self.view)}))
        self.status.value = f"exported {html.escape(png.name)} and {html.escape(data.name)} to {html.escape(str(folder))}"
        return png, data

    def _export_clicked(self) -> None:
        """The button: a failed export says why in the status line (a click handler's exception reaches only the
        kernel's log, and the browser would show nothing)."""
        try:
            self.export()
        except Exception as err:  # noqa: BLE001 - shown to the user, who can act on it
            self.status.value = f"<span style='color:#b00'>export failed: {html.escape(f'{type(err).__name__}: {err}')}</span>"

    def show(self, interactive: bool) -> "ExplorerApp":
        """Interactive: display the form (it answers as you change it). Headless: compute the default view and
        show it as a figure, saved as ``figures/07_explorer_<app>.png`` so the report can show it."""
        if interactive:
            display(self.widget())
            self.request()
            return self
        self.request()
        self.wait()
        if self.error:
            raise RuntimeError(f"{self.title}: {self.error}")
        fig = self.draw(self.view)
        if self.run_path is not None:
            save_figure(fig, self.run_path, f"07_explorer_{self.name}")
        complete = "" if self.complete_seconds == self.seconds else f", complete in {self.complete_seconds:.2f} s"
        print(self.describe(self.view) + f" · answered in {self.seconds:.2f} s{complete}")
        return self


def _plain(value) -> bool:
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False
