"""Adapts QgsProcessingFeedback to the engine's Progress protocol (engine/progress.py)."""


class FeedbackProgress:
    """set_progress / log / is_cancelled forwarded to a QgsProcessingFeedback."""

    def __init__(self, feedback):
        self.feedback = feedback

    def set_progress(self, percent):
        self.feedback.setProgress(max(0.0, min(100.0, float(percent))))

    def log(self, message):
        message = str(message)
        if message.startswith("Warning: "):  # the engine's convention: shown highlighted in the log
            self.feedback.pushWarning(message)
        else:
            self.feedback.pushInfo(message)

    def is_cancelled(self):
        return self.feedback.isCanceled()
