"""The sensing component: DHT22/DHT11 and device-health sensors, local rules, the alert actuator."""
