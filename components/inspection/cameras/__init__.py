"""Camera sources behind one interface (:class:`~components.inspection.cameras.base.Camera`)."""
