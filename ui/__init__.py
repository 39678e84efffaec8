"""QGIS-side code: Processing provider, algorithms, dock panel."""
