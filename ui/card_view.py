"""Rich-text view of a model card for the dock: classes with colour swatches, bands, patch, metrics."""
from html import escape

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QLabel, QSizePolicy

from ..engine.model.card import network_version, supported_outputs
from ..engine.model.missing_modality import runs_without_line
from .i18n import tr


def card_html(card):
    rows = "".join(
        f'<tr><td style="background-color:{escape(c["color"])}">&nbsp;&nbsp;&nbsp;&nbsp;</td>'
        f"<td>&nbsp;{int(c['value'])}</td><td>&nbsp;{escape(c['name'])}</td></tr>"
        for c in card["classes"]
    )
    modalities = "".join(
        "<li>" + escape(tr("{name} ({role}): {bands} band(s)").format(
            name=m["name"], role=m.get("role", ""), bands=m["bands"])) + "</li>"
        for m in card["modalities"]
    )
    metrics = card.get("metrics") or {}
    shown = ", ".join(f"{k.upper()} {v:.3f}" if isinstance(v, float) else f"{k.upper()} {v}"
                      for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    geometry = tr("Patch {} px, tile {} px").format(card.get("patch_size"), card.get("tile_size"))
    version = network_version(card)
    geometry += "; " + tr("network version {}").format(version)
    return (
        f"<b>{escape(card['name'])}</b><br/>{escape(card.get('description') or '')}"
        f"<p><b>{escape(tr('Expected layers'))}</b></p><ul style='margin:0'>{modalities}</ul>"
        f"<p><b>{escape(tr('Classes'))}</b></p><table cellspacing='2'>{rows}</table>"
        f"<p>{escape(geometry)}<br/>{escape(tr('Training metrics'))}: {escape(shown or '-')}<br/>"
        f"{escape(runs_without_line(card))}</p>"
        f"<p><b>{escape(tr('Outputs this model can give'))}</b></p>"
        f"<ul style='margin:0'>{outputs_html(card)}</ul>"
    )


def outputs_html(card):
    """One line per output of bdgf:classify: supported or not, and why not (model.card.supported_outputs)."""
    lines = []
    for name, ok, why in supported_outputs(card):
        mark = ("<span style='color:#1a9850'>&#10003;</span>" if ok
                else "<span style='color:#b2182b'>&#10007;</span>")
        note = f" <i>({escape(why)})</i>" if why and not ok else ""
        lines.append(f"<li>{mark} {escape(name)}{note}</li>")
    return "".join(lines)


class CardView(QLabel):
    """Shows a card, or a hint / an error when there is none."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.show_card(None)

    def show_card(self, card, error=None):
        if card is not None:
            self.setText(card_html(card))
        elif error:
            self.setText(f"<span style='color:#b2182b'>{escape(error)}</span>")
        else:
            hint = tr("Choose a model package (.bdgf) to see its classes and layers, or click "
                      "'Load demo' to try the bundled demo model on the bundled demo scene.")
            self.setText(f"<i>{escape(hint)}</i>")
