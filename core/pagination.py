from rest_framework.pagination import CursorPagination, PageNumberPagination


class _Page(PageNumberPagination):
    page_size_query_param = "limit"
    max_page_size = 500


class CursorOrPagePagination(CursorPagination):
    """`?limit=&cursor=` (default, stable under inserts) or `?page=` (numbered, with a count)."""

    ordering = "-pk"
    page_size_query_param = "limit"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        if "page" in request.query_params:
            # the same order as the cursor pages, so switching style never reshuffles the rows
            self._page = _Page()
            ordered = queryset.order_by(*self.get_ordering(request, queryset, view))
            return self._page.paginate_queryset(ordered, request, view)
        self._page = None
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self._page is not None:
            return self._page.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_paginated_response_schema(self, schema):
        return super().get_paginated_response_schema(schema)

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        params.append(
            {
                "name": "page",
                "required": False,
                "in": "query",
                "description": "Page number (numbered pagination instead of a cursor).",
                "schema": {"type": "integer"},
            }
        )
        return params
