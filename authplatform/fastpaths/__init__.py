"""Performance devices that lean on framework internals, in one place.

Each was added because a profile of the bench (``python -m bench --profile``) showed the framework's
general path costing most of a hot request or send. Each module says which internals (Django,
Channels, daphne, autobahn, Twisted) it relies on and which test fails when an upgrade changes them;
check these first after upgrading any of them.

| module | what it replaces | used by |
| --- | --- | --- |
| ``prepared`` | building and compiling the same queryset on every request | credentials/selectors.py |
| ``sqlite3`` | a new SQLite connection (and schema parse) per ASGI request | DATABASES ENGINE (settings.py) |
| ``consumers`` | Channels' database hop before every consumer message and at every disconnect; its two-task |
|  | receive loop (and, under daphne, the task forwarding its events) | live/consumers.py |
| ``ws_direct`` | an ASGI send (a task woken, a frame built) per socket for a send's frames and a | |
|  | revocation's ``sessionEnded``: one pre-framed write per socket, from the layer's direct handler | |
|  |  | live/consumers.py |
| ``batched_timer`` | txaio's handshake-timeout buckets, whose cancel scans a list | authplatform/server.py |
| ``autobahn_logging`` | autobahn formatting its debug-log arguments (discarded) on every frame and close | |
|  |  | authplatform/server.py |
| ``twisted_writes`` | an epoll registration per write: one ``send()`` per connection per loop turn |
|  |  | authplatform/server.py |
| ``bulk_insert`` | ``bulk_create``'s model instance per inbox row | notifications/services.py |
| ``row_cache`` | a query per customer request for a product space that never changes | tokens/customer_jwt.py |
"""
