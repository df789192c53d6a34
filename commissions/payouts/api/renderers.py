"""Renderers that let a client ask for CSV or PDF (Accept: text/csv, application/pdf); the views answer with the
file itself, and errors still come as problem+json."""

import json

from rest_framework.renderers import BaseRenderer


class _FileRenderer(BaseRenderer):
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes | str):
            return data
        return json.dumps(data).encode()


class CSVRenderer(_FileRenderer):
    media_type = "text/csv"
    format = "csv"


class PDFRenderer(_FileRenderer):
    media_type = "application/pdf"
    format = "pdf"
