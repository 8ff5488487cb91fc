"""monitor.axes.render: one layout pass, one draw, titles left where matplotlib would leave them."""

import numpy as np

from trainlab.monitor import axes as _axes


def _figure():
    figure = _axes.new_figure(8, 3)
    plain, offset, log = figure.subplots(1, 3)
    steps = np.arange(50)
    plain.plot(steps, np.linspace(0.2, 0.9, 50))
    offset.plot(steps, 1.0 + np.linspace(0, 5e-5, 50))  # a y offset text ("+1") above the axes, under the title
    log.plot(steps, np.logspace(-6, 1, 50))
    log.set_yscale("log")
    for ax, title in zip((plain, offset, log), ("plain values", "values with a long title to clear", "log")):
        ax.set_title(title)
    return figure, (plain, offset, log)


def test_settled_titles_give_the_same_pixels(monkeypatch):
    figure, (plain, offset, log) = _figure()
    settled = _axes._settle_titles(figure)
    assert offset not in settled and settled == [plain, log]  # the offset text's axes keep matplotlib's own placement
    ours = _axes.png_bytes(_figure()[0])
    monkeypatch.setattr(_axes, "_settle_titles", lambda figure: [])
    assert _axes.png_bytes(_figure()[0]) == ours


def test_a_wrong_guess_is_put_right_once_the_layout_has_the_ticks(monkeypatch):
    # A title settled by mistake above an offset text is moved clear of it when the figure is drawn.
    guess = _axes._settle_titles

    def every_title(figure):  # as if no axes had an offset text
        for ax in figure.axes:
            ax.yaxis.get_major_formatter().get_offset = lambda: ""
        settled = guess(figure)
        for ax in figure.axes:
            del ax.yaxis.get_major_formatter().get_offset
        return settled

    monkeypatch.setattr(_axes, "_settle_titles", every_title)
    figure, axes = _figure()
    _axes.png_bytes(figure)
    offset = axes[1]
    renderer = figure.canvas.get_renderer()
    assert offset.yaxis.offsetText.get_text()
    assert offset.title.get_window_extent(renderer).ymin >= offset.yaxis.offsetText.get_window_extent(renderer).ymax
    assert all(ax._autotitlepos for ax in axes)  # left as it was, for a later draw
