"""`longtail serve`: DBpedia Spotlight's REST API over the embedded statistical linker.

Any Spotlight client (spacy-dbpedia-spotlight, pyspotlight, `SpotlightClient`, the scripts of
Kandpal et al.) can point at `http://127.0.0.1:2222/rest` instead of a Spotlight server: same
paths, parameters and response shapes. What differs is said where it differs: errors are one
line of JSON instead of a Java stack trace, `sparql` is echoed but not evaluated, `url` is not
fetched, `/rest/disambiguate` answers 404, and a request without an Accept header gets XML
(Spotlight answers HTML there).

The ASGI application is `longtail.serve.app.SpotlightApp`; `longtail.serve.server` configures
uvicorn's HTTP server for it (`SpotlightServer` serves from a thread of this process) and
`longtail.serve.prefork` runs it in gunicorn's pre-forked worker processes;
`longtail.serve.limits` bounds the memory and CPU time one request's text may cost. Importing
this package (for the CLI's `register`) loads neither the linker, numpy nor the HTTP server.
"""

from longtail.serve.command import cmd_serve, register

__all__ = ["cmd_serve", "register"]
