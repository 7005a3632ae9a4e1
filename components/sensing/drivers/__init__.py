"""Sensor drivers behind one small interface (:class:`components.sensing.drivers.base.SensorDriver`)."""
