"""issue_api_token NAME --user USERNAME --scope read|write [--expires-days N]

Prints the token once; only its hash is stored, so it cannot be shown again.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from commitments import services


class Command(BaseCommand):
    help = "Issue a REST API token for an integration; the secret is printed once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The integration the token is for.")
        parser.add_argument("--user", required=True, help="Username the token acts as.")
        parser.add_argument("--scope", required=True, choices=["read", "write"])
        parser.add_argument("--expires-days", type=int, default=None)

    def handle(self, *args, name, user, scope, expires_days, **options):
        try:
            token, raw = services.api_token_issue_for_username(
                name=name, username=user, scope=scope, expires_in_days=expires_days
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        expiry = token.expires_at.isoformat() if token.expires_at else "never"
        self.stderr.write(
            f"Token {token.name!r} for {user} ({scope}), expires {expiry}. "
            "Store it now: it is not shown again."
        )
        self.stdout.write(raw)
