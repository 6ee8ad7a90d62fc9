"""The operator console: ``crmsync console``, a server-rendered web app (Starlette, Jinja2).

People sign in (``worker.console.auth``; users come from ``crmsync users``) and see one
tenant: its connections, runs, failures, conflicts, held duplicates and customers
(``worker.console.views``). Viewers read; operators also pause, resume, sync, replay,
dismiss and decide held records. Every action calls the same functions as the CLI; the
console holds no sync logic of its own.
"""
