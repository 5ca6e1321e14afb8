"""Django admin for the credential store: where admins issue, rotate and revoke credentials.

Every change goes through credentials.services (which decide the rules and write the audit log);
these modules only collect input, call a service and show the outcome. One module per kind of
credential, and ``pages`` for what they share (the form, confirmation and show-once pages, and the
action written once). Credential object pages are read-only and nothing here deletes a credential:
revoking keeps the record of when and why it stopped working.
"""

from django.contrib import admin

from credentials.admin import api_keys, audit, clients, platform_keys, signing_keys, users, workspaces  # noqa: F401
from credentials.admin.login import AdminLoginForm

# Failed sign-ins are budgeted per address and per username, and audited (credentials/admin/login.py).
admin.site.login_form = AdminLoginForm
# The site's root is the API, which has no page for people: no "View site" link to a JSON 404.
admin.site.site_url = None
