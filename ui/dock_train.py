"""The dock's *Train a model* section: the label layer and its class field (the field list follows the
layer), 'selected features only', the preset and where the package goes. It shares the dock's layer
pickers; the dock runs bdgf:train with these parameters in the background (the same algorithm as in the
toolbox) and, when it is done, selects the new package as the model."""
from qgis.core import QgsMapLayerProxyModel, QgsProcessingFeatureSourceDefinition, QgsSettings
from qgis.gui import QgsCollapsibleGroupBox, QgsFieldComboBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLineEdit, QPushButton

from .i18n import tr
from .widgets import show_path, shrinkable

PRESETS = (("quick", "quick (minutes: a first look)"), ("cpu", "cpu (about 15 min per 100,000 px)"),
           ("paper", "paper (for a GPU)"))


class TrainPanel(QgsCollapsibleGroupBox):
    """Label layer, class field, preset and output of bdgf:train."""

    def __init__(self, parent=None):
        super().__init__(tr("Train a model"), parent)
        self.setObjectName("BDGFTrainPanel")
        self.labels = QgsMapLayerComboBox(self)
        self.labels.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer
                               | QgsMapLayerProxyModel.Filter.PointLayer)
        self.labels.setAllowEmptyLayer(True)
        self.labels.setLayer(None)
        self.field = QgsFieldComboBox(self)
        self.labels.layerChanged.connect(self.field.setLayer)
        self.selected_only = QCheckBox(tr("Selected features only"), self)
        self.preset = QComboBox(self)
        self.preset.addItems([tr(label) for _key, label in PRESETS])
        for combo in (self.labels, self.field, self.preset):  # long names must not widen a narrow dock
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        self.output = QgsFileWidget(self)
        shrinkable(self.output)
        self.output.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.output.setFilter(tr("BDGF model package (*.bdgf)"))
        self.output.fileChanged.connect(lambda path: show_path(self.output, path))
        self.settings = QLineEdit(self)
        self.settings.setPlaceholderText(tr("e.g. epochs=20 (optional)"))
        self.settings.setToolTip(tr("Training settings that override the preset's (bdgf:train's 'Training "
                                    "settings')"))
        self.train_button = QPushButton(tr("Train"), self)
        self.train_button.setObjectName("BDGFTrain")
        self.train_button.setToolTip(tr("Train a model on the layers above and these labels (bdgf:train); "
                                        "when it is done, it becomes the panel's model"))
        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(tr("Labels"), self.labels)
        form.addRow(tr("Class field"), self.field)
        form.addRow(self.selected_only)
        form.addRow(tr("Preset"), self.preset)
        form.addRow(tr("Model package"), self.output)
        form.addRow(tr("Settings"), self.settings)
        form.addRow(self.train_button)

    def problems(self):
        """What stops training, in plain words (empty: it can start)."""
        out = []
        if self.labels.currentLayer() is None:
            out.append(tr("Train: choose a label layer (polygons or points with a class field)."))
        elif not self.field.currentField():
            out.append(tr("Train: choose the class field of the label layer."))
        if not self.output.filePath():
            out.append(tr("Train: choose where to save the model package (.bdgf)."))
        return out

    def parameters(self):
        """bdgf:train's label, preset and output parameters (the dock adds the layers)."""
        layer = self.labels.currentLayer()
        source = QgsProcessingFeatureSourceDefinition(layer.id(), self.selected_only.isChecked()) \
            if layer is not None else None
        path = self.output.filePath()
        if path and not path.lower().endswith(".bdgf"):
            path += ".bdgf"
        params = {"LABELS": source, "LABEL_FIELD": self.field.currentField(),
                  "PRESET": self.preset.currentIndex(), "OUTPUT": path}
        if self.settings.text().strip():
            params["TRAINING_SETTINGS"] = self.settings.text().strip()
        return params

    def restore(self, settings_key):
        settings = QgsSettings()
        self.preset.setCurrentIndex(settings.value(settings_key + "preset", 0, int))
        self.output.setFilePath(settings.value(settings_key + "output", "", str))
        self.setCollapsed(settings.value(settings_key + "collapsed", True, bool))

    def save(self, settings_key):
        settings = QgsSettings()
        settings.setValue(settings_key + "preset", self.preset.currentIndex())
        settings.setValue(settings_key + "output", self.output.filePath())
        settings.setValue(settings_key + "collapsed", self.isCollapsed())
