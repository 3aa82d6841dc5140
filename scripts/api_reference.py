"""Write docs/api.md from the application's OpenAPI document (`--check` fails if it is stale)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tamga.app import create_app
from tamga.config import Settings

TARGET = Path(__file__).resolve().parent.parent / "docs" / "api.md"
METHODS = ("get", "post", "put", "patch", "delete")


def render(spec: dict[str, Any]) -> str:
    """Give the Markdown API reference for an OpenAPI document."""
    lines = [
        "# API reference",
        "",
        "Generated from `/openapi.json` by `scripts/api_reference.py`; a test fails when it is stale.",
        "",
        "Every path is under `/api/v1` (except `/health`). Authenticate with `Authorization: Bearer <token>`:",
        "a JWT from `POST /api/v1/auth/token` (OAuth2 password form) or an API key. Every error is",
        "`application/problem+json` with `type`, `title`, `status`, `detail` and, for validation, `errors`:",
        "a list of `{field, reason}` with paths such as `body.items[3].hs_code`. Every POST accepts an",
        "`Idempotency-Key` header: a retry with the same key and body replays the first response",
        "(`Idempotent-Replayed: true`); the same key with another body is a 422. Listings are keyset-paginated:",
        "`?limit=` (1-200) and `?cursor=` from the previous page's `next_cursor`.",
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((method.upper(), path, op))
    for tag in sorted(by_tag):
        lines += [f"## {tag}", "", "| method | path | what it does | success |", "|---|---|---|---|"]
        for method, path, op in by_tag[tag]:
            summary = (op.get("description") or op.get("summary") or "").strip().splitlines()[0]
            success = next((code for code in op.get("responses", {}) if code.startswith("2")), "")
            lines.append(f"| {method} | `{path}` | {summary} | {success} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    spec = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:")).openapi()
    text = render(spec)
    if "--check" in sys.argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print("docs/api.md is stale: run .venv/bin/python scripts/api_reference.py")
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
