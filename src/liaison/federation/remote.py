"""A partner's TAXII 2.1 API root, as the sync engine uses it (TAXII §4.1, §4.2, §5).

The partner URL in the configuration is either the discovery URL (`…/taxii2/`, then
the discovery resource's `default` API root, else its first) or an API root URL.  An
API root on another origin than the configured URL is refused, like a redirect there.
Collection URLs follow the standard layout `{api-root}collections/{id}/objects/` and
status resources `{api-root}status/{id}/` (reference §3.2).
"""

from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit

from liaison.federation.client import PartnerClient, PartnerError


class Remote:
    def __init__(self, client: PartnerClient, url: str) -> None:
        self.client = client
        self.url = url if url.endswith("/") else url + "/"
        self._root: str | None = None
        self._failed: PartnerError | None = None
        self._max_content: int | None = None

    def api_root(self) -> str:
        """The API root URL; a failure is remembered, so the other jobs of the same pass
        do not call an unreachable partner again."""
        if self._failed is not None:
            raise self._failed
        if self._root is None:
            try:
                self._root = self._resolve()
            except PartnerError as exc:
                self._failed = exc
                raise
        return self._root

    def _resolve(self) -> str:
        if not urlsplit(self.url).path.rstrip("/").endswith("taxii2"):
            return self.url
        doc = self.client.get(self.url).doc
        roots = doc.get("api_roots") if isinstance(doc, dict) else None
        default = doc.get("default") if isinstance(doc, dict) else None
        choice = default if isinstance(default, str) else (
            roots[0] if isinstance(roots, list) and roots and isinstance(roots[0], str) else None)
        if choice is None:
            raise PartnerError(f"the partner's discovery resource {self.url} names no API root")
        root = urljoin(self.url, choice)
        root = root if root.endswith("/") else root + "/"
        if not self.client.same_origin(root):
            raise PartnerError(f"the partner's discovery names an API root on another origin "
                               f"({root}): not followed")
        return root

    def objects_url(self, collection_id: str) -> str:
        return f"{self.api_root()}collections/{quote(collection_id, safe='')}/objects/"

    def status_url(self, status_id: str) -> str:
        return f"{self.api_root()}status/{quote(status_id, safe='')}/"

    def max_content_length(self, fallback: int) -> int:
        """The partner's largest accepted body (TAXII §4.2.1), never above `fallback`."""
        if self._max_content is None:
            doc = self.client.get(self.api_root()).doc
            value = doc.get("max_content_length") if isinstance(doc, dict) else None
            ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
            self._max_content = min(value, fallback) if ok else fallback  # type: ignore[type-var]
        return self._max_content
