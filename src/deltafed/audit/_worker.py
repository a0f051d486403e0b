"""Entry point of a process that checks ranges of an audit log for ``verify_log(workers=N)``."""

from deltafed.audit._parallel import serve

if __name__ == "__main__":
    serve()
