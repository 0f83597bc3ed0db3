"""The web gallery of ``hopid serve``: a search page, thumbnails, full images and detail data,
served from the index folder alone (no CDN, nothing outside the indexed images)."""
