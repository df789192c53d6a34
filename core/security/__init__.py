"""The platform's security controls outside the API keys themselves (docs/security.md):

- `admin_site` and `two_factor`: the admin site with the TOTP two-factor login and the enrolment page;
- `lockout`: login throttling (django-axes) for every login through authenticate();
- `throttling`: the per-key API rate limit (429 with Retry-After);
- `csp`: the Content-Security-Policy, with the admin's additions;
- `logging`: secrets masked in every log line.
"""
