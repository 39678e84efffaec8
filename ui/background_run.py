"""Runs a Processing algorithm in a QgsTask and reports back on the main thread."""
from qgis.core import (
    QgsApplication,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
)
from qgis.PyQt.QtCore import QObject, pyqtSignal


class CapturingFeedback(QgsProcessingFeedback):
    """Keeps the errors the algorithm reported, to show them in plain words."""

    def __init__(self):
        super().__init__()
        self.errors = []

    def reportError(self, error, fatalError=False):  # noqa: N802, N803 (QGIS API names)
        self.errors.append(error)
        super().reportError(error, fatalError)


class BackgroundRun(QObject):
    """One algorithm run; `finished(ok, results, message)` is emitted on the main thread."""

    progress = pyqtSignal(float)
    finished = pyqtSignal(bool, dict, str)

    def __init__(self, algorithm_id, parameters, parent=None):
        super().__init__(parent)
        self.algorithm = QgsApplication.processingRegistry().createAlgorithmById(algorithm_id)
        self.parameters = parameters
        self.context = QgsProcessingContext()
        self.context.setProject(QgsProject.instance())
        self.feedback = CapturingFeedback()
        self.feedback.progressChanged.connect(self.progress)
        self.task = None
        self.card = None  # set by the caller: what the run was started with

    def check(self):
        """(ok, message) from the algorithm's own parameter checks, on the main thread."""
        return self.algorithm.checkParameterValues(self.parameters, self.context)

    def start(self, description):
        self.task = QgsProcessingAlgRunnerTask(self.algorithm, self.parameters, self.context, self.feedback)
        self.task.setDescription(description)
        self.task.executed.connect(self._executed)
        QgsApplication.taskManager().addTask(self.task)

    def cancel(self):
        self.feedback.cancel()
        if self.task is not None:
            self.task.cancel()

    def is_cancelled(self):
        return self.feedback.isCanceled()

    def _executed(self, ok, results):
        message = "\n".join(self.feedback.errors)
        self.task = None
        self.finished.emit(bool(ok), dict(results or {}), message)
