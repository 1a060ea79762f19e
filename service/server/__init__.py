"""How the app is served: the gunicorn worker, its HTTP protocol's request timeouts, the shutdown notice."""
