"""Entity linkers: the Spotlight REST client and the embedded statistical linker."""

from longtail.linking.annotation import Annotation, Linker, LinkError, LinkResult

__all__ = ["Annotation", "LinkError", "LinkResult", "Linker"]
