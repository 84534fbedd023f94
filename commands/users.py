"""``gapmap users``: dashboard accounts (:mod:`cases.accounts`) — add, disable, reset, list.

Passwords are read with a hidden prompt (typed twice), or from the first line of standard
input with ``--password-stdin`` (for scripts). The accounts live in the operations database
(``--db`` or ``GAPMAP_CASES_DB``; default ``data/store/cases.duckdb``).
"""

from __future__ import annotations

import getpass
import sys

from cases import accounts

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "users", help="dashboard accounts: add, disable, reset, list",
        description="Manage the dashboard's accounts. Roles: viewer (public tier), partner "
        "(partner tier), outreach (restricted tier and the follow-up queue), admin (also users "
        "and the audit trail).")
    p.add_argument("action", choices=["add", "disable", "reset", "list"])
    p.add_argument("username", nargs="?", help="the account (not for list)")
    p.add_argument("--role", choices=list(accounts.ROLES),
                   help="role for add (default viewer) or a new role on reset")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    p.add_argument("--db", default=None, help="operations database (default GAPMAP_CASES_DB)")
    p.set_defaults(func=run)


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    pw = getpass.getpass(f"Password for {args.username}: ")
    if getpass.getpass("Again: ") != pw:
        raise ValueError("the two passwords differ")
    return pw


def run(args) -> int:
    if args.action == "list":
        users = accounts.list_users(path=args.db)
        if users.empty:
            print("no accounts yet: gapmap users add NAME --role admin")
            return 0
        print(users.to_string(index=False))
        return 0
    if not args.username:
        raise ValueError(f"users {args.action} needs a user name")
    if args.action == "add":
        role = args.role or "viewer"
        accounts.add_user(args.username, role, _password(args), path=args.db)
        print(f"added {args.username} ({role})")
    elif args.action == "disable":
        accounts.disable_user(args.username, path=args.db)
        print(f"disabled {args.username}")
    else:
        accounts.reset_password(args.username, _password(args), role=args.role, path=args.db)
        print(f"reset {args.username}" + (f" (role {args.role})" if args.role else ""))
    return 0
