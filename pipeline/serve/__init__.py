"""`longtail serve`: DBpedia Spotlight's REST API over the embedded statistical linker.

Any Spotlight client (spacy-dbpedia-spotlight, pyspotlight, `SpotlightClient`, the scripts of
Kandpal et al.) can point at `http://127.0.0.1:2222/rest` instead of a Spotlight server: same
paths, parameters and response shapes. What differs is said where it differs: errors are one
line of JSON instead of a Java stack trace, `sparql` is echoed but not evaluated, `url` is not
fetched, `/rest/disambiguate` answers 404, and a request without an Accept header gets XML
(Spotlight answers HTML there).

The server itself is `longtail.serve.server.SpotlightServer`; importing this package (for the
CLI's `register`) loads neither the linker nor numpy.
"""

from longtail.serve.command import cmd_serve, register

__all__ = ["cmd_serve", "register"]
