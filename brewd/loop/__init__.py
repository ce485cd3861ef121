"""The scheduling loop: ticks, what is due, the watchdog, minutely housekeeping."""
