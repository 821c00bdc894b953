"""LangGraph's long-term memory store on Django: `backend.DjangoStore` (what
graphs use, one user's items), `filters` (a search's filter in SQL), `api`
(the platform's `/store` API, per user), `models`, `admin`, and the
`sweep_store` command."""
