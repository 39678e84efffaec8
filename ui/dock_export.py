"""*Export job…* in the dock: the panel's layers, model and settings written as a batch job
(bdgf:exportjob, the same algorithm as in the toolbox) and the command that runs it, in a dialog."""
from qgis.core import QgsApplication, QgsProcessingContext, QgsProject
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QFileDialog, QMessageBox

from .background_run import CapturingFeedback
from .i18n import tr


def export_job(dock, path=None):
    """Write the dock's run as a job (`path`, or asked for) and show its command. Returns the algorithm's
    results, or None (the reason in the message bar)."""
    if path is None:
        path, _filter = QFileDialog.getSaveFileName(dock, tr("Export a batch job"), "job.json",
                                                    tr("JSON files (*.json)"))
        if not path:
            return None
    dock.save_settings()
    params = dict(dock.parameters(), OUTPUT=path)
    for name in dock.outputs.trust_outputs():  # the job writes them beside its mosaic
        del params[name]
        params["WRITE_" + name] = True
    params.update(dock.layers.parameters(by_id=True))  # the layers themselves: a layer that is not a file
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("bdgf:exportjob")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    ok, message = algorithm.checkParameterValues(params, context)
    feedback = CapturingFeedback()
    results = algorithm.run(params, context, feedback)[0] if ok else None
    if not results:
        dock.show_error(message or "\n".join(feedback.errors) or tr("The job could not be written."))
        return None
    dock.job_dialog = QMessageBox(QMessageBox.Icon.Information, tr("BDGF batch job"),
                                  results["INSTRUCTIONS"], QMessageBox.StandardButton.Ok, dock)
    dock.job_dialog.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    dock.job_dialog.setModal(False)
    dock.job_dialog.show()
    return results
