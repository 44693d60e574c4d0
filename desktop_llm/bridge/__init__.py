"""The bridge: what the page may ask of Python, as plain functions (api.py), and the events
Python pushes to the page (events.py). The server gives each function one HTTP route."""
