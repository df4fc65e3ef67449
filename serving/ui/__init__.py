"""The worklist web app: server-rendered pages under ``/ui`` for collectors and revenue owners."""
