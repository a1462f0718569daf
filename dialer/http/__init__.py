"""dialer's HTTP listeners: one Starlette app (`app.create_app`: probes, metrics, the dashboard,
Retell's webhooks, and the routes a caller mounts) served by uvicorn with limits against
abusive clients (`server.serve`) on a socket bound up front (`binding.listening_socket`), so a
port in use is one clear line before anything runs."""
