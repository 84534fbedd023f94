"""Admin: user accounts and the audit trail (role ``admin`` only).

Registered in the navigation only for admins; the page also checks the role itself.
"""

from __future__ import annotations

import streamlit as st

from app_pages import _auth
from cases import accounts, audit

_auth.require_role("admin")

st.title("Admin")
st.caption("Accounts of the dashboard and the audit trail of restricted views and exports. "
           "The same actions are on the command line: `gapmap users add|disable|reset|list`.")

st.subheader("Users")
users = accounts.list_users()
st.dataframe(users, hide_index=True, width="stretch")

left, right = st.columns(2)
with left, st.form("add_user", clear_on_submit=True):
    st.markdown("**Add a user**")
    name = st.text_input("User name", key="admin_new_user")
    role = st.selectbox("Role", list(accounts.ROLES), key="admin_new_role")
    pw = st.text_input(f"Initial password (at least {accounts.MIN_PASSWORD} characters)",
                       type="password", key="admin_new_pw")
    if st.form_submit_button("Add user"):
        try:
            accounts.add_user(name.strip(), role, pw)
            _auth.audit("update", "user:add", 1, f"{name.strip()} as {role}")
            st.success(f"Added {name.strip()} ({role}).")
            st.rerun()
        except ValueError as exc:
            st.error(str(exc))
with right, st.form("change_user", clear_on_submit=True):
    st.markdown("**Disable or reset a user**")
    names = users["username"].tolist()
    who = st.selectbox("User", names, key="admin_user", index=None)
    new_pw = st.text_input("New password (reset; re-enables and unlocks)", type="password",
                           key="admin_reset_pw")
    c1, c2 = st.columns(2)
    do_reset = c1.form_submit_button("Reset password")
    do_disable = c2.form_submit_button("Disable")
    if (do_reset or do_disable) and who:
        try:
            if do_disable:
                accounts.disable_user(who)
                _auth.audit("update", "user:disable", 1, who)
            else:
                accounts.reset_password(who, new_pw)
                _auth.audit("update", "user:reset", 1, who)
            st.rerun()
        except ValueError as exc:
            st.error(str(exc))

st.subheader("Audit trail")
log = audit.read()
_auth.audit_view("audit", len(log))
st.caption(f"{len(log):,} rows, append-only; hash chain "
           + ("intact." if audit.verify() else "**BROKEN: rows were edited or removed.**"))
st.dataframe(log.iloc[::-1].head(500), hide_index=True, width="stretch")
if st.download_button("Export the audit trail (CSV)", log.to_csv(index=False),
                      file_name="gapmap_audit.csv", mime="text/csv", key="audit_export"):
    _auth.audit("export", "audit.csv", len(log))
